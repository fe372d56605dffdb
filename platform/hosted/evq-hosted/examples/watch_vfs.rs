//! Watch a running hosted system's file system: attach as a client,
//! subscribe to VFS events, print the next five, and exit.
//!
//! ```sh
//! evq run &                                   # a hosted system
//! cargo run -p evq-hosted --example watch_vfs -- [CONSOLE]
//! evq fs mkdir /docs                          # …and four more changes
//! ```

use std::time::Duration;

use evq_abi::event::Category;
use evq_abi::msg::Filter;
use evq_hosted::console::{self, Console};

fn watch() -> Result<(), String> {
    let path = std::env::args_os().nth(1).map_or_else(console::default_path, Into::into);
    let console = Console::connect(&path).map_err(|e| e.to_string())?;
    // The slot, and with it the client's queues, lasts while `console` is open.
    let (_, mut client) = console.attach_client(None).map_err(|e| e.to_string())?;
    let mut queue = client.create_queue(4).map_err(|e| e.to_string())?;
    client.subscribe(&queue, Filter::all_of(Category::Vfs)).map_err(|e| e.to_string())?;
    println!("watching");
    let mut seen = 0;
    while seen < 5 {
        while let Some(event) = queue.next_event().map_err(|e| e.to_string())? {
            println!("{event}");
            seen += 1;
            if seen == 5 {
                return Ok(());
            }
        }
        // Sleeps until the server signals (or a second passes): no system
        // call per event, one per wake-up at most.
        client.wait(&mut queue, Duration::from_secs(1)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = watch() {
        eprintln!("watch_vfs: {e}");
        std::process::exit(1);
    }
}
