//! `protocol!` and `codes!`: each message of a protocol defined once.
//!
//! In the manner of Hubris's idol, a protocol is one table. Each row names a
//! message: its label constant and value, who sends it, the typed request
//! (an enum variant and its fields), the codec that turns it into bytes and
//! back, and the reply it is answered with. [`protocol!`](crate::protocol)
//! generates from it everything that used to be written out by hand for
//! every message:
//!
//! * the `label` module: one constant per message, `OK`/`ERROR`, and
//!   `REQUESTS`, every request label in table order;
//! * the request enum, its `label()`, `decode(label, body)` and
//!   `encode(out)`;
//! * the reply enum (the table's replies and `Error`), its
//!   `decode(request_label, reply_label, body)` and `encode(out)`;
//! * `MESSAGES`, every message's label, direction and body layouts, from
//!   which a test renders the tables of `docs/protocol.md` and compares.
//!
//! What stays hand-written is what differs per message: the byte layout (a
//! `zerocopy` struct) and the codec module, which checks every field. A
//! request codec `c` is a module with
//!
//! * `pub const LAYOUT: framing::Layout`;
//! * `pub fn decode(body: &[u8]) -> Result<F, DecodeError>`, where `F` is the
//!   variant's content: the one type of a tuple variant, a tuple of the
//!   fields (in order) of a struct variant, `()` for a unit variant;
//! * `pub fn encode(fields…, out: &mut [u8]) -> Result<usize, EncodeError>`,
//!   taking the fields by value, in order.
//!
//! A reply codec is the same. The generated decoders check, in this order,
//! the label (`UnknownLabel`), the framing ([`crate::framing::check_len`]),
//! then call the codec, so every protocol refuses malformed input the same
//! way. To add a message: add its row, its layout and its codec.
//!
//! The protocol's `DecodeError` must have the variants `UnknownLabel(u32)`,
//! `BadErrorCode(u32)`, `BadLength { expected, actual }` and
//! `ReservedNonZero`; the macro converts [`crate::framing::FrameError`] into
//! it. Its `EncodeError` is `framing::EncodeError<DecodeError>`. The request and
//! reply types must be `Copy`.

/// Defines a protocol's messages from one table; see the [module
/// documentation](crate::protocol).
///
/// A protocol of one message, `PING` with a number, answered `Pong` with it:
///
/// ```
/// use evq_abi::framing::{exact, put, Layout};
/// use zerocopy::byteorder::little_endian::U64;
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// pub enum DecodeError {
///     UnknownLabel(u32),
///     BadLength { expected: usize, actual: usize },
///     ReservedNonZero,
///     BadErrorCode(u32),
/// }
/// pub type EncodeError = evq_abi::framing::EncodeError<DecodeError>;
///
/// evq_abi::codes! {
///     /// Why a ping failed.
///     pub enum ErrorCode {
///         /// It did not decode.
///         BadRequest = 1,
///     }
/// }
///
/// /// The one body: a number.
/// #[derive(zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout, zerocopy::Immutable)]
/// #[repr(C)]
/// pub struct NumberBody { pub n: U64 }
///
/// mod requests {
///     pub mod ping {
///         use super::super::*;
///         pub const LAYOUT: Layout = Layout::fixed::<NumberBody>("Number");
///         pub fn decode(body: &[u8]) -> Result<(u64,), DecodeError> {
///             Ok((exact::<NumberBody>(body)?.n.get(),))
///         }
///         pub fn encode(n: u64, out: &mut [u8]) -> Result<usize, EncodeError> {
///             put(out, &NumberBody { n: n.into() })
///         }
///     }
/// }
/// mod replies {
///     pub use super::requests::ping as pong;
/// }
///
/// evq_abi::protocol! {
///     errors { decode: DecodeError, code: ErrorCode }
///     /// Labels.
///     labels label;
///     /// A request.
///     requests Request in requests {
///         /// Ask for a number back.
///         PING = 0x0401, "client → server", ping: Ping {
///             /// The number.
///             n: u64,
///         } => Pong;
///     }
///     /// A reply.
///     replies Reply in replies {
///         /// The number, back.
///         pong: Pong {
///             /// The number.
///             n: u64,
///         };
///     }
/// }
///
/// fn main() {
/// let mut body = [0u8; 8];
/// let (l, len) = Request::Ping { n: 7 }.encode(&mut body).unwrap();
/// assert_eq!((l, len), (label::PING, 8));
/// assert_eq!(Request::decode(l, &body[..len]), Ok(Request::Ping { n: 7 }));
/// assert_eq!(Request::decode(0x0402, &body), Err(DecodeError::UnknownLabel(0x0402)));
/// assert_eq!(Request::decode(l, &body[..4]), Err(DecodeError::BadLength { expected: 8, actual: 4 }));
/// let (rl, n) = Reply::Pong { n: 7 }.encode(&mut body).unwrap();
/// assert_eq!(Reply::decode(l, rl, &body[..n]), Ok(Reply::Pong { n: 7 }));
/// let (el, n) = Reply::Error { code: ErrorCode::BadRequest, detail: 2 }.encode(&mut body).unwrap();
/// assert_eq!((el, Reply::decode(l, el, &body[..n])), (label::ERROR, Ok(Reply::Error { code: ErrorCode::BadRequest, detail: 2 })));
/// assert_eq!(MESSAGES[0].to_string(), "| `0x0401` | `PING` | client → server | Number (8) | Number (8) |");
/// assert_eq!(label::REQUESTS, [label::PING]);
/// }
/// ```
#[macro_export]
macro_rules! protocol {
    (
        errors { decode: $DecodeError:ident, code: $ErrorCode:ident }

        $(#[$labels_meta:meta])*
        labels $label:ident;

        $(#[$request_meta:meta])*
        requests $Request:ident $(<$rl:lifetime>)? in $codecs:ident {
            $(
                $(#[$m_meta:meta])*
                $LABEL:ident = $value:literal, $direction:literal, $codec:ident:
                $Variant:ident
                    $( { $( $(#[$f_meta:meta])* $field:ident : $fty:ty ),* $(,)? } )?
                    $( ( $tty:ty ) )?
                => $Answer:ident;
            )*
        }

        $(#[$reply_meta:meta])*
        replies $Reply:ident $(<$pl:lifetime>)? in $rcodecs:ident {
            $(
                $(#[$r_meta:meta])*
                $rcodec:ident: $RVariant:ident
                    $( { $( $(#[$rf_meta:meta])* $rfield:ident : $rfty:ty ),* $(,)? } )?
                    $( ( $rtty:ty ) )?
                ;
            )*
        }
    ) => {
        impl From<$crate::framing::FrameError> for $DecodeError {
            fn from(e: $crate::framing::FrameError) -> Self {
                match e {
                    $crate::framing::FrameError::BadLength { expected, actual } => Self::BadLength { expected, actual },
                    $crate::framing::FrameError::ReservedNonZero => Self::ReservedNonZero,
                }
            }
        }

        $(#[$labels_meta])*
        pub mod $label {
            pub use $crate::framing::label::{ERROR, OK};
            $(
                $(#[$m_meta])*
                pub const $LABEL: u32 = $value;
            )*
            /// Every request label, in the order the protocol defines them.
            pub const REQUESTS: [u32; $crate::protocol!(@count $($LABEL)*)] = [$($LABEL),*];
        }

        /// Every message of the protocol: its label, direction and bodies.
        pub const MESSAGES: [$crate::framing::MessageSpec; $crate::protocol!(@count $($LABEL)*)] = [$(
            $crate::framing::MessageSpec {
                name: stringify!($LABEL),
                label: $value,
                direction: $direction,
                request: $codecs::$codec::LAYOUT,
                reply: __Answer::$Answer.layout(),
            }
        ),*];

        $(#[$request_meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $Request $(<$rl>)? {
            $(
                $(#[$m_meta])*
                $Variant $( { $( $(#[$f_meta])* $field: $fty ),* } )? $( ( $tty ) )?,
            )*
        }

        impl $(<$rl>)? $Request $(<$rl>)? {
            /// Decodes a request from its label and body. The label is
            /// checked first (`UnknownLabel`), then the framing every body
            /// shares, then the message's own fields.
            #[inline]
            pub fn decode(label: u32, body: &$($rl)? [u8]) -> Result<Self, $DecodeError> {
                Ok(match label {
                    $(
                        $label::$LABEL => {
                            $crate::framing::check_len(body)?;
                            $crate::protocol!(@decode $Request, $Variant, $codecs::$codec, body,
                                $( { $($field),* } )? $( ( $tty ) )?)
                        }
                    )*
                    other => return Err($DecodeError::UnknownLabel(other)),
                })
            }

            /// The label this request is sent with.
            pub const fn label(&self) -> u32 {
                match self {
                    $(
                        $crate::protocol!(@wild $Request, $Variant, $( { $($field),* } )? $( ( $tty ) )?)
                            => $label::$LABEL,
                    )*
                }
            }

            /// Encodes the request's body into `out`; returns the label and the length.
            pub fn encode(&self, out: &mut [u8]) -> Result<(u32, usize), $crate::framing::EncodeError<$DecodeError>> {
                let len = match *self {
                    $(
                        $crate::protocol!(@bind $Request, $Variant, value, $( { $($field),* } )? $( ( $tty ) )?)
                            => $crate::protocol!(@encode $codecs::$codec, value, out,
                                $( { $($field),* } )? $( ( $tty ) )?)?,
                    )*
                };
                Ok((self.label(), len))
            }
        }

        $(#[$reply_meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $Reply $(<$pl>)? {
            $(
                $(#[$r_meta])*
                $RVariant $( { $( $(#[$rf_meta])* $rfield: $rfty ),* } )? $( ( $rtty ) )?,
            )*
            /// The request failed.
            Error {
                /// Why.
                code: $ErrorCode,
                /// Detail, per code.
                detail: u32,
            },
        }

        impl $(<$pl>)? $Reply $(<$pl>)? {
            /// Decodes the reply to a request sent with `request_label`:
            /// the framing every body shares, then `ERROR` with its code, or
            /// `OK` with the body that request is answered with.
            pub fn decode(request_label: u32, reply_label: u32, body: &$($pl)? [u8]) -> Result<Self, $DecodeError> {
                $crate::framing::check_len(body)?;
                if reply_label == $crate::framing::label::ERROR {
                    let b = $crate::framing::exact::<$crate::framing::ErrorBody>(body)?;
                    let code = $ErrorCode::from_u32(b.code.get()).ok_or($DecodeError::BadErrorCode(b.code.get()))?;
                    return Ok(Self::Error { code, detail: b.detail.get() });
                }
                if reply_label != $crate::framing::label::OK {
                    return Err($DecodeError::UnknownLabel(reply_label));
                }
                let answer = match request_label {
                    $( $label::$LABEL => __Answer::$Answer, )*
                    other => return Err($DecodeError::UnknownLabel(other)),
                };
                answer.decode(body)
            }

            /// Encodes the reply's body into `out`; returns the reply label and length.
            pub fn encode(&self, out: &mut [u8]) -> Result<(u32, usize), $crate::framing::EncodeError<$DecodeError>> {
                let len = match *self {
                    $(
                        $crate::protocol!(@bind $Reply, $RVariant, value, $( { $($rfield),* } )? $( ( $rtty ) )?)
                            => $crate::protocol!(@encode $rcodecs::$rcodec, value, out,
                                $( { $($rfield),* } )? $( ( $rtty ) )?)?,
                    )*
                    Self::Error { code, detail } => {
                        let body = $crate::framing::ErrorBody { code: (code as u32).into(), detail: detail.into() };
                        let n = $crate::framing::put(out, &body)?;
                        return Ok(($crate::framing::label::ERROR, n));
                    }
                };
                Ok(($crate::framing::label::OK, len))
            }
        }

        /// Which reply a request is answered with (for the reply decoder
        /// and the docs' tables).
        #[derive(Clone, Copy)]
        enum __Answer {
            $( $RVariant, )*
        }

        impl __Answer {
            const fn layout(self) -> $crate::framing::Layout {
                match self {
                    $( Self::$RVariant => $rcodecs::$rcodec::LAYOUT, )*
                }
            }

            fn decode $(<$pl>)? (self, body: &$($pl)? [u8]) -> Result<$Reply $(<$pl>)?, $DecodeError> {
                Ok(match self {
                    $(
                        Self::$RVariant => $crate::protocol!(@decode $Reply, $RVariant, $rcodecs::$rcodec, body,
                            $( { $($rfield),* } )? $( ( $rtty ) )?),
                    )*
                })
            }
        }
    };

    // -- The three shapes of a variant: struct, tuple (one type) and unit. --

    (@decode $Enum:ident, $Variant:ident, $codecs:ident :: $codec:ident, $body:ident, { $($field:ident),* }) => {{
        let ($($field,)*) = $codecs::$codec::decode($body)?;
        $Enum::$Variant { $($field),* }
    }};
    (@decode $Enum:ident, $Variant:ident, $codecs:ident :: $codec:ident, $body:ident, ( $t:ty )) => {
        $Enum::$Variant($codecs::$codec::decode($body)?)
    };
    (@decode $Enum:ident, $Variant:ident, $codecs:ident :: $codec:ident, $body:ident, ) => {{
        let () = $codecs::$codec::decode($body)?;
        $Enum::$Variant
    }};

    (@wild $Enum:ident, $Variant:ident, { $($field:ident),* }) => { $Enum::$Variant { .. } };
    (@wild $Enum:ident, $Variant:ident, ( $t:ty )) => { $Enum::$Variant(..) };
    (@wild $Enum:ident, $Variant:ident, ) => { $Enum::$Variant };

    (@bind $Enum:ident, $Variant:ident, $value:ident, { $($field:ident),* }) => { $Enum::$Variant { $($field),* } };
    (@bind $Enum:ident, $Variant:ident, $value:ident, ( $t:ty )) => { $Enum::$Variant($value) };
    (@bind $Enum:ident, $Variant:ident, $value:ident, ) => { $Enum::$Variant };

    (@encode $codecs:ident :: $codec:ident, $value:ident, $out:ident, { $($field:ident),* }) => {
        $codecs::$codec::encode($($field,)* $out)
    };
    (@encode $codecs:ident :: $codec:ident, $value:ident, $out:ident, ( $t:ty )) => {
        $codecs::$codec::encode($value, $out)
    };
    (@encode $codecs:ident :: $codec:ident, $value:ident, $out:ident, ) => {
        $codecs::$codec::encode($out)
    };

    (@count $($x:ident)*) => { 0usize $(+ $crate::protocol!(@one $x))* };
    (@one $x:ident) => { 1usize };
}

/// Defines a protocol's error codes (a `u32` on the wire) once: the enum,
/// `from_u32`, `ALL` and `name`.
#[macro_export]
macro_rules! codes {
    (
        $(#[$meta:meta])*
        pub enum $Name:ident {
            $( $(#[$v_meta:meta])* $Variant:ident = $value:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum $Name {
            $( $(#[$v_meta])* $Variant = $value, )*
        }

        impl $Name {
            /// Every code, in the order defined (number order).
            pub const ALL: [$Name; $crate::protocol!(@count $($Variant)*)] = [$(Self::$Variant),*];

            /// The code with this number.
            pub const fn from_u32(v: u32) -> Option<Self> {
                match v {
                    $( $value => Some(Self::$Variant), )*
                    _ => None,
                }
            }

            /// The code's name, as `docs/protocol.md` gives it.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Self::$Variant => stringify!($Variant), )*
                }
            }
        }

        impl core::fmt::Display for $Name {
            /// The code's name.
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
