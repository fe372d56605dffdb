//! `evq top`: a live view of a running system in the terminal. Events per
//! second per source and per queue, each queue's ring fill as a gauge,
//! each domain's state and the system's, redrawn every interval from the
//! console's `status` reply (what `evq stats --watch` prints as text).
//!
//! Drawing is [`render`], a function of the sample before and the sample
//! now only; the loop around it samples, reads keys and restores the
//! terminal however it ends: a key, the system stopping, or a stop signal
//! (SIGINT, SIGHUP, SIGTERM), after which it dies by that signal.

use std::io::{self, IsTerminal as _};
use std::time::{Duration, Instant};

use clap::Args;
use evq_hosted::console::{Console, Status};

use crate::stop_signal;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};
use ratatui::{DefaultTerminal, Frame};

use crate::rates::{figure, Rate, Rates};
use crate::stats::{seconds, stopped_line, system_line};
use crate::ConsoleArg;

/// `evq top`'s command line.
#[derive(Args)]
pub(crate) struct TopArgs {
    #[command(flatten)]
    console: ConsoleArg,
    /// Sample every SECONDS seconds (0.1 to 3600).
    #[arg(long, short = 'i', value_name = "SECONDS", default_value = "1", value_parser = seconds)]
    interval: f64,
}

/// What `evq top` says when standard output is not a terminal.
pub(crate) const NOT_A_TERMINAL: &str =
    "standard output is not a terminal, and `evq top` draws on one; `evq stats --watch 1` prints the same as text";

/// The width of a fill gauge's bar, in cells.
const GAUGE: usize = 20;

/// A fill level as a bar of [`GAUGE`] cells and a percentage: `[#####…] 25%`.
pub(crate) fn gauge(fill: f64) -> String {
    let full = ((fill.clamp(0.0, 1.0) * GAUGE as f64).round() as usize).min(GAUGE);
    format!("[{}{}] {:>3.0}%", "#".repeat(full), " ".repeat(GAUGE - full), fill.clamp(0.0, 1.0) * 100.0)
}

fn rate_cells(r: Option<Rate>) -> [Cell<'static>; 4] {
    let f = |v: fn(&Rate) -> f64| Cell::from(Line::from(figure(r.as_ref().map(v))).right_aligned());
    [f(|r| r.published), f(|r| r.delivered), f(|r| r.coalesced), f(|r| r.dropped)]
}

fn heading<'a>(first: &[&'a str]) -> Row<'a> {
    let rates = ["published/s", "delivered/s", "coalesced/s", "dropped/s"];
    let cells = first.iter().map(|h| Cell::from(*h)).chain(rates.map(|h| Cell::from(Line::from(h).right_aligned())));
    Row::new(cells).style(Style::new().add_modifier(Modifier::BOLD))
}

/// Draws one sample, `now`, its rates against `before` (`secs` seconds
/// earlier; `None` for the first sample, which has no rates yet).
pub(crate) fn render(frame: &mut Frame<'_>, before: Option<&Status>, now: &Status, secs: f64) {
    let rates = Rates::of(before, now, secs);
    let areas = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(rates.sources.len() as u16 + 4),
        Constraint::Length(rates.queues.len().max(1) as u16 + 3),
        Constraint::Min(3),
    ])
    .split(frame.area());
    let state = system_line(now);
    let style = if now.degraded.is_empty() { Style::new().fg(Color::Green) } else { Style::new().fg(Color::Red) };
    let top = Line::from(format!(
        "evq top: board {}, {state}; {} clients, {} queues; every {secs:.1} s; q quits",
        now.board, now.server.clients, now.server.queues
    ))
    .style(style);
    frame.render_widget(Paragraph::new(top), areas[0]);

    let mut rows: Vec<Row<'_>> = rates
        .sources
        .iter()
        .map(|s| {
            let first = [Cell::from(s.id.to_string()), Cell::from(s.name.clone())];
            Row::new(first.into_iter().chain(rate_cells(s.rate)))
        })
        .collect();
    let total = [Cell::from(""), Cell::from("total")].into_iter().chain(rate_cells(rates.total));
    rows.push(Row::new(total).style(Style::new().add_modifier(Modifier::BOLD)));
    let widths = [[Constraint::Length(4), Constraint::Length(16)].as_slice(), &RATE_WIDTHS].concat();
    let sources =
        Table::new(rows, widths).header(heading(&["id", "source"])).block(Block::bordered().title(" sources "));
    frame.render_widget(sources, areas[1]);

    if rates.queues.is_empty() {
        frame.render_widget(Paragraph::new("no queues").block(Block::bordered().title(" queues ")), areas[2]);
    } else {
        render_queues(frame, &rates, areas[2]);
    }

    let rows = now.domains.iter().map(|d| {
        let pid = d.pid.map(|p| p.to_string()).unwrap_or_default();
        let ok = matches!(d.state.as_str(), "running" | "attached" | "free" | "exited 0");
        let style = if ok { Style::new() } else { Style::new().fg(Color::Red) };
        Row::new([d.id.to_string(), d.name.clone(), d.image.clone(), d.role.clone(), pid, d.state.clone()]).style(style)
    });
    let widths = [4, 16, 12, 7, 8, 24].map(Constraint::Length);
    let domains = Table::new(rows, widths)
        .header(
            Row::new(["id", "domain", "image", "role", "pid", "state"])
                .style(Style::new().add_modifier(Modifier::BOLD)),
        )
        .block(Block::bordered().title(" domains "));
    frame.render_widget(domains, areas[3]);
}

/// The rate columns' widths.
const RATE_WIDTHS: [Constraint; 4] =
    [Constraint::Length(11), Constraint::Length(11), Constraint::Length(11), Constraint::Length(9)];

/// The queues' table: each one's fill as a gauge and its rates.
fn render_queues(frame: &mut Frame<'_>, rates: &Rates, area: ratatui::layout::Rect) {
    let rows = rates.queues.iter().map(|q| {
        let bar = if q.revoked { "revoked".to_string() } else { gauge(q.fill()) };
        let first = [
            Cell::from(format!("{:#x}", q.queue)),
            Cell::from(q.owner.clone()),
            Cell::from(q.fill_words()),
            Cell::from(bar),
        ];
        Row::new(first.into_iter().chain(rate_cells(q.rate)))
    });
    let first =
        [Constraint::Length(8), Constraint::Length(16), Constraint::Length(10), Constraint::Length(GAUGE as u16 + 7)];
    let widths = [first.as_slice(), &RATE_WIDTHS].concat();
    let queues = Table::new(rows, widths)
        .header(heading(&["queue", "owner", "used", "ring fill"]))
        .block(Block::bordered().title(" queues "));
    frame.render_widget(queues, area);
}

/// The terminal in raw mode on the alternate screen, given back as it was
/// when this is dropped, however `evq top` ends.
struct Screen(DefaultTerminal);

impl Drop for Screen {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Whether a key asks to quit: `q`, Esc, or Ctrl-C (raw mode makes it a key).
fn quits(key: &event::KeyEvent) -> bool {
    key.kind == KeyEventKind::Press
        && (matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
            || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)))
}

/// How long to wait for a key before looking at the console again.
const KEY_WAIT: Duration = Duration::from_millis(100);

pub(crate) fn top(args: TopArgs) -> io::Result<i32> {
    if !io::stdout().is_terminal() {
        return Err(io::Error::other(NOT_A_TERMINAL));
    }
    let path = args.console.path();
    let console = Console::connect(&path)?;
    let period = Duration::from_secs_f64(args.interval);
    // A stop signal must not leave the terminal raw on the alternate screen.
    stop_signal::catch()?;
    let ended = {
        let mut screen = Screen(ratatui::try_init()?);
        run(&mut screen, &console, period)?
    };
    match ended {
        Ended::Quit => {}
        Ended::Stopped => say!("{}", stopped_line(&path))?,
        Ended::Signal(sig) => stop_signal::die_by(sig),
    }
    Ok(0)
}

/// Why the view ended.
enum Ended {
    /// A key asked to quit.
    Quit,
    /// The system stopped.
    Stopped,
    /// This stop signal came (SIGINT, SIGHUP, SIGTERM).
    Signal(i32),
}

/// Samples and draws until a key quits, the system stops or a stop signal comes.
fn run(screen: &mut Screen, console: &Console, period: Duration) -> io::Result<Ended> {
    let mut before: Option<(Instant, Status)> = None;
    loop {
        let status = match console.status() {
            Ok(status) => status,
            Err(e) if crate::stats::is_console_gone(&e) => return Ok(Ended::Stopped),
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        let secs = before.as_ref().map_or(period.as_secs_f64(), |(at, _)| now.duration_since(*at).as_secs_f64());
        let earlier = before.take().map(|(_, s)| s);
        // A resize draws this sample again at the new size: a sample taken
        // then would give rates over a few milliseconds.
        let draw =
            |screen: &mut Screen| screen.0.draw(|frame| render(frame, earlier.as_ref(), &status, secs)).map(drop);
        draw(screen)?;
        let due = now + period;
        while Instant::now() < due {
            match stop_signal::caught() {
                0 => {}
                sig => return Ok(Ended::Signal(sig)),
            }
            // A signal interrupts the wait; the loop then sees it.
            let key = match event::poll(KEY_WAIT.min(due.saturating_duration_since(Instant::now()))) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
                other => other?,
            };
            if key {
                match event::read()? {
                    Event::Key(key) if quits(&key) => return Ok(Ended::Quit),
                    Event::Resize(..) => draw(screen)?,
                    _ => {}
                }
            }
            if crate::stats::hung_up(console.fd())? {
                return Ok(Ended::Stopped);
            }
        }
        before = Some((now, status));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rates::tests::sample;
    use evq_abi::msg::Counters;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn screen(before: Option<&Status>, now: &Status) -> String {
        let mut terminal = Terminal::new(TestBackend::new(110, 30)).unwrap();
        terminal.draw(|f| render(f, before, now, 2.0)).unwrap();
        let buffer = terminal.backend().buffer();
        let width = buffer.area.width as usize;
        let cells: Vec<&str> = buffer.content.iter().map(|c| c.symbol()).collect();
        cells.chunks(width).map(|row| row.concat().trim_end().to_string()).collect::<Vec<_>>().join("\n")
    }

    fn row_with<'a>(screen: &'a str, text: &str) -> Vec<&'a str> {
        let line = screen.lines().find(|l| l.contains(text)).unwrap_or_else(|| panic!("no {text:?} in\n{screen}"));
        line.split(['│', ' ']).filter(|w| !w.is_empty()).collect()
    }

    #[test]
    fn a_sample_shows_rates_per_source_and_queue_fill_gauges_and_states() {
        let c = |p, d, k, x| Counters { published: p, delivered: d, coalesced: k, dropped: x, ..Counters::default() };
        let before = sample(c(0, 0, 0, 0), c(0, 0, 0, 0), Some(0));
        let now = sample(c(40, 20, 4, 2), c(10, 6, 0, 4), Some(128));
        let text = screen(Some(&before), &now);
        assert!(text.lines().next().unwrap().starts_with("evq top: board hosted, system: up;"), "{text}");
        assert_eq!(row_with(&text, "vfs"), ["2", "vfs", "20", "10", "2.0", "1.0"]);
        assert_eq!(
            row_with(&text, "0x101"),
            ["0x101", "console-1", "128/512", "[#####", "]", "25%", "5.0", "3.0", "0", "2.0"]
        );
        assert_eq!(row_with(&text, "attach "), ["5", "console-1", "attach", "client", "42", "attached"]);
    }

    #[test]
    fn the_first_sample_has_no_rates_and_a_degraded_system_says_so() {
        let mut now = sample(Counters::default(), Counters::default(), None);
        now.degraded = vec!["vfs killed by SIGSEGV".into()];
        now.server.queue_list.clear();
        let text = screen(None, &now);
        assert!(text.contains("system: degraded: vfs killed by SIGSEGV"), "{text}");
        assert_eq!(row_with(&text, "│2   "), ["2", "vfs", "-", "-", "-", "-"]);
        assert!(text.contains("no queues"), "{text}");
    }

    #[test]
    fn a_gauge_is_as_full_as_the_ring() {
        assert_eq!(gauge(0.0), format!("[{}]   0%", " ".repeat(20)));
        assert_eq!(gauge(0.5), format!("[{}{}]  50%", "#".repeat(10), " ".repeat(10)));
        assert_eq!(gauge(7.0), format!("[{}] 100%", "#".repeat(20)));
    }
}
