//! The scenario gallery: cards grouped by topic in a fixed order, a search
//! that matches names, titles, summaries and topics, and a thumbnail of a
//! scenario's stage (its machine after the workload and setup, before the
//! played operation).

use pfnscope_core::Scenario;

use crate::palette::{Palette, Theme};
use crate::raster::{render, Overlay};
use crate::viewport::Viewport;

/// The topics in the order the gallery shows them; others come last.
pub const TOPICS: [&str; 5] = ["Your scenarios", "First steps", "Failure modes", "Allocator internals", "Seeds"];

/// One card: a built-in scenario's name and what its file says.
#[derive(Clone, Debug, PartialEq)]
pub struct Card {
    pub name: String,
    pub title: String,
    pub summary: String,
    pub topic: String,
}

impl Card {
    pub fn of(name: &str, s: &Scenario) -> Card {
        Card { name: name.into(), title: s.title.clone(), summary: s.summary.clone(), topic: if s.topic.is_empty() { "Other".into() } else { s.topic.clone() } }
    }

    /// Whether every word of a search is in the card (any ASCII case: the
    /// Unicode case tables would cost the web bundle 3 KB).
    pub fn matches(&self, search: &str) -> bool {
        let hay = format!("{} {} {} {}", self.name, self.title, self.summary, self.topic).to_ascii_lowercase();
        search.to_ascii_lowercase().split_whitespace().all(|w| hay.contains(w))
    }
}

/// The cards that match a search, grouped by topic: [`TOPICS`] first in
/// their order, then others as they first appear; within a group, in the
/// cards' own order (built-ins come by name): `(topic, indices)`.
pub fn groups(cards: &[Card], search: &str) -> Vec<(String, Vec<usize>)> {
    let found: Vec<usize> = (0..cards.len()).filter(|&i| cards[i].matches(search)).collect();
    let mut topics: Vec<&str> = TOPICS.to_vec();
    for &i in &found {
        if !topics.contains(&cards[i].topic.as_str()) {
            topics.push(&cards[i].topic);
        }
    }
    topics
        .into_iter()
        .map(|t| (t.to_string(), found.iter().copied().filter(|&i| cards[i].topic == t).collect::<Vec<_>>()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// A scenario's stage: its machine after the workload and the setup,
/// the operation not played (built in chunks by
/// [`crate::session::Session::start_build`]).
pub fn stage(s: &Scenario) -> Scenario {
    Scenario { play: None, ..s.clone() }
}

/// A thumbnail of a machine (a scenario's stage), `width` pixels wide
/// and at most `height` tall, cut to the rows the machine fills:
/// `(height, RGBA)`.
pub fn thumbnail_of(m: &pfnscope_core::Machine, width: u32, height: u32, theme: Theme) -> (u32, Vec<u8>) {
    let v = Viewport::fit(m.pfn_span(), width, height);
    let mut px = render(m, &v, &Palette::new(theme), &Overlay::default());
    let h = (v.total_rows() * v.row_h() as u64).clamp(1, height as u64) as u32;
    px.truncate((width * h * 4) as usize);
    (h, px)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gallery_groups_every_built_in_by_topic_and_searches_them() {
        let cards: Vec<Card> = Scenario::builtins().map(|n| Card::of(n, &Scenario::builtin(n).unwrap())).collect();
        assert!(cards.len() >= 24);
        let all = groups(&cards, "");
        assert_eq!(all.iter().map(|(_, v)| v.len()).sum::<usize>(), cards.len());
        assert_eq!(all[0].0, "First steps", "no user scenarios here");
        assert!(all.iter().all(|(t, _)| TOPICS.contains(&t.as_str())), "every built-in has a known topic");
        let pins = groups(&cards, "PINNED cma");
        assert_eq!(pins.len(), 1);
        assert!(pins[0].1.iter().any(|&i| cards[i].name == "cma-pinned-page"));
        assert!(groups(&cards, "no such words").is_empty());
        let (h, px) = thumbnail_of(&stage(&Scenario::builtin("tour").unwrap()).build().unwrap(), 64, 40, Theme::Light);
        let default = stage(&Scenario::builtin("default").unwrap());
        let mut b = crate::session::Session::start_build(&default).unwrap();
        while !b.advance().unwrap() {}
        assert_eq!(thumbnail_of(&b.into_machine(), 64, 40, Theme::Light), thumbnail_of(&default.build().unwrap(), 64, 40, Theme::Light), "built in chunks or at once, the same picture");
        assert!(h <= 40 && h > 0);
        assert_eq!(px.len(), (64 * h * 4) as usize);
        assert!(px.chunks(4).any(|p| p != &px[..4]), "the thumbnail shows something");
    }
}
