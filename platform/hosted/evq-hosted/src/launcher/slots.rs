//! `evq run --client-slots N`: the description as run, with N console
//! client slots.
//!
//! The description stays the one account of the system: the option does
//! not add slots beside it, it rewrites the description's text before
//! anything reads it, so the launcher, the server and every domain parse
//! the same system (the boot information holds the rewritten text). The
//! slots it counts are the ones `evq tail` takes when no slot is named: the
//! `image = "attach"` clients that are not lossless. Fewer than the
//! description has drops the last of them; more adds `console-K` slots
//! after them, each like the last one (its priority), with badges above
//! every badge the description gives.

use evq_system::Role;

use crate::boot::image;

/// The most console client slots `--client-slots` may ask for.
pub const MAX_CLIENT_SLOTS: usize = 32;

/// The priority of an added slot when the description has none to copy.
const DEFAULT_PRIORITY: i64 = 100;

/// `text` with exactly `slots` console client slots, or why not, in words.
/// The same number the description has gives the text back unchanged.
pub fn with_client_slots(text: &str, slots: usize) -> Result<String, String> {
    if slots > MAX_CLIENT_SLOTS {
        return Err(format!("--client-slots {slots}: at most {MAX_CLIENT_SLOTS} console client slots"));
    }
    let system = evq_system::parse(text).map_err(|e| e.to_string())?;
    let is_slot =
        |d: &evq_system::Domain<'_>| d.image == image::ATTACH && matches!(d.role, Role::Client { .. }) && !d.lossless;
    let described: Vec<&str> = system.domains.iter().filter(|d| is_slot(d)).map(|d| d.name).collect();
    if described.len() == slots {
        return Ok(text.to_string());
    }
    let other_clients = system.domains.iter().filter(|d| matches!(d.role, Role::Client { .. }) && !is_slot(d)).count();
    if other_clients + slots > evq_server::limits::MAX_CLIENTS {
        return Err(format!(
            "--client-slots {slots}: with the description's {other_clients} other clients that is more than the server's {} clients",
            evq_server::limits::MAX_CLIENTS
        ));
    }
    let mut doc: toml::Table = text.parse().map_err(|e| format!("system description: {e}"))?;
    let Some(toml::Value::Array(domains)) = doc.get_mut("domain") else {
        return Err("system description: no domains".into());
    };
    let name_of = |v: &toml::Value| v.get("name").and_then(|n| n.as_str()).unwrap_or("").to_string();
    // Fewer: the last ones go.
    let dropped: Vec<&str> = described.iter().skip(slots).copied().collect();
    domains.retain(|d| !dropped.contains(&name_of(d).as_str()));
    // More: each like the last slot, under a name and a badge of its own.
    let template = described.last().and_then(|last| domains.iter().find(|d| name_of(d) == *last)).cloned();
    let priority = template.as_ref().and_then(|t| t.get("priority")).and_then(|p| p.as_integer());
    let mut taken: Vec<String> = domains.iter().map(name_of).collect();
    let first_badge = system.domains.iter().filter_map(|d| d.badge()).max().unwrap_or(evq_system::ROOT_BADGE) + 1;
    let mut k = 1;
    for badge in (first_badge..).take(slots.saturating_sub(described.len())) {
        while taken.contains(&format!("console-{k}")) {
            k += 1;
        }
        let name = format!("console-{k}");
        let mut slot = toml::Table::new();
        slot.insert("name".into(), name.clone().into());
        slot.insert("image".into(), image::ATTACH.into());
        slot.insert("priority".into(), priority.unwrap_or(DEFAULT_PRIORITY).into());
        slot.insert("role".into(), "client".into());
        slot.insert(
            "badge".into(),
            i64::try_from(badge).map_err(|_| "no badge is left for a slot".to_string())?.into(),
        );
        domains.push(toml::Value::Table(slot));
        taken.push(name);
    }
    let out = doc.to_string();
    // What comes out must be a system the launcher runs.
    evq_system::parse(&out).map_err(|e| format!("--client-slots {slots}: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTED: &str = include_str!("../../../../../images/hosted/system.toml");

    fn slots(text: &str) -> Vec<(String, u64)> {
        let system = evq_system::parse(text).unwrap();
        system
            .domains
            .iter()
            .filter(|d| d.image == image::ATTACH && matches!(d.role, Role::Client { .. }))
            .map(|d| (d.name.to_string(), d.badge().unwrap()))
            .collect()
    }

    #[test]
    fn the_described_count_leaves_the_text_as_it_is() {
        assert_eq!(slots(HOSTED).len(), 4);
        assert_eq!(with_client_slots(HOSTED, 4).unwrap(), HOSTED);
    }

    #[test]
    fn more_slots_follow_the_last_with_names_and_badges_of_their_own() {
        let six = with_client_slots(HOSTED, 6).unwrap();
        let got = slots(&six);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["console-1", "console-2", "console-3", "console-4", "console-5", "console-6"]);
        assert_eq!((got[4].1, got[5].1), (0x25, 0x26));
        let system = evq_system::parse(&six).unwrap();
        assert_eq!(system.domain("console-6").unwrap().1.priority, 100);
        // Everything else is as described.
        assert_eq!(system.domains.len(), evq_system::parse(HOSTED).unwrap().domains.len() + 2);
    }

    #[test]
    fn fewer_slots_drop_the_last_and_none_is_allowed() {
        let names = |t: &str| slots(t).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        assert_eq!(names(&with_client_slots(HOSTED, 2).unwrap()), ["console-1", "console-2"]);
        assert!(names(&with_client_slots(HOSTED, 0).unwrap()).is_empty());
    }

    #[test]
    fn an_added_slot_takes_the_last_slots_priority() {
        let text = HOSTED.replace(
            "name = \"console-4\"\nimage = \"attach\"\npriority = 100",
            "name = \"console-4\"\nimage = \"attach\"\npriority = 90",
        );
        assert_ne!(text, HOSTED);
        let five = with_client_slots(&text, 5).unwrap();
        assert_eq!(evq_system::parse(&five).unwrap().domain("console-5").unwrap().1.priority, 90);
    }

    #[test]
    fn the_slots_and_the_other_clients_together_fit_the_servers_table() {
        let mut text = HOSTED.to_string();
        for i in 0..40 {
            text += &format!(
                "\n[[domain]]\nname = \"w{i}\"\nimage = \"evq-watch\"\npriority = 50\nrole = \"client\"\nbadge = {}\n",
                0x100 + i
            );
        }
        assert!(with_client_slots(&text, 24).is_ok());
        assert_eq!(
            with_client_slots(&text, 25).unwrap_err(),
            "--client-slots 25: with the description's 40 other clients that is more than the server's 64 clients"
        );
    }

    #[test]
    fn too_many_slots_or_a_bad_description_is_refused_in_words() {
        assert_eq!(with_client_slots(HOSTED, 33).unwrap_err(), "--client-slots 33: at most 32 console client slots");
        assert!(with_client_slots("board = 1", 2).unwrap_err().starts_with("system description"));
    }
}
