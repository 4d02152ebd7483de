//! A scenario's lesson on its played trace: which checkpoint the player is
//! at, whether its question has been answered (the learner stepped past
//! it), and where the previous and next checkpoints are.

use pfnscope_core::scenario::lesson::lesson_cursors;
use pfnscope_core::{Checkpoint, Trace};

/// The lesson's checkpoints and the player cursor of each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lesson {
    pub checkpoints: Vec<Checkpoint>,
    /// `None` is before the first step.
    pub cursors: Vec<Option<usize>>,
}

impl Lesson {
    /// The lesson on a trace; none when the scenario has no lesson or a
    /// checkpoint is not in this trace (the error says which).
    pub fn new(checkpoints: &[Checkpoint], trace: &Trace) -> Result<Option<Lesson>, String> {
        if checkpoints.is_empty() {
            return Ok(None);
        }
        let cursors = lesson_cursors(checkpoints, trace)?;
        Ok(Some(Lesson { checkpoints: checkpoints.to_vec(), cursors }))
    }

    /// The checkpoint whose text shows at a cursor: the last one at or
    /// before it.
    pub fn current(&self, cursor: Option<usize>) -> Option<usize> {
        self.cursors.iter().rposition(|&c| c <= cursor)
    }

    /// Whether checkpoint `i`'s question is answered: the player is past it.
    pub fn answered(&self, i: usize, cursor: Option<usize>) -> bool {
        self.cursors.get(i).is_some_and(|&c| cursor > c)
    }

    /// The answer checkpoint `i` shows at a cursor: its own question's
    /// once the player is past it; at once when it has no question of its
    /// own (it answers an earlier checkpoint's where the trace shows it).
    pub fn answer_shown(&self, i: usize, cursor: Option<usize>) -> Option<&str> {
        let c = self.checkpoints.get(i)?;
        let answer = c.answer.as_deref()?;
        (c.ask.is_none() || self.answered(i, cursor)).then_some(answer)
    }

    /// The cursor of the next checkpoint after `cursor`, if any.
    pub fn next(&self, cursor: Option<usize>) -> Option<Option<usize>> {
        self.cursors.iter().copied().find(|&c| c > cursor)
    }

    /// The cursor of the checkpoint before the current one (or of the
    /// current one when the player has moved past it).
    pub fn previous(&self, cursor: Option<usize>) -> Option<Option<usize>> {
        self.cursors.iter().copied().rev().find(|&c| c < cursor)
    }
}

#[cfg(test)]
mod tests {

    use crate::session::Session;
    use pfnscope_core::Scenario;

    /// The pinned scenario's lesson walks its trace: each checkpoint
    /// shows from its step on, its answer once the player is past it, and
    /// next/previous move between checkpoints, framing what they name.
    #[test]
    fn a_lesson_follows_the_player_through_its_checkpoints() {
        let mut s = Session::new(&Scenario { steps: 3_000, ..Scenario::builtin("pinned").unwrap() }, 640, 400).unwrap();
        let l = s.lesson.clone().expect("pinned has a lesson");
        assert_eq!(l.current(None), Some(0));
        assert!(l.checkpoints[0].ask.is_some() && !l.answered(0, None));
        let second = l.next(None).unwrap();
        assert!(second.is_some());
        assert!(l.answered(0, second));
        s.next_checkpoint();
        assert_eq!(s.player.as_ref().unwrap().cursor, second);
        let test_at = l.cursors[2].unwrap();
        s.next_checkpoint();
        let cursor = s.player.as_ref().unwrap().cursor;
        assert_eq!(cursor, Some(test_at));
        assert_eq!(s.player.as_ref().unwrap().trace.steps[test_at].func.name(), "test_pages_isolated");
        let frame = l.checkpoints[2].frame.unwrap();
        assert!(s.viewport.visible_pfns().start <= frame.start && frame.end <= s.viewport.visible_pfns().end, "the camera frames the checkpoint");
        s.previous_checkpoint();
        assert_eq!(s.player.as_ref().unwrap().cursor, second);
        assert!(l.answer_shown(0, None).is_none() && l.answer_shown(0, second).is_none(), "the first checkpoint's question is answered later");
        assert!(l.answer_shown(2, Some(test_at)).is_some_and(|a| a.contains("final test")), "checkpoint 3 answers it where the test fails");
        s.seek(Some(test_at + 1));
        assert_eq!(l.current(Some(test_at + 1)), Some(2));
        assert!(l.answered(2, Some(test_at + 1)));
        s.previous_checkpoint();
        assert_eq!(s.player.as_ref().unwrap().cursor, Some(test_at), "back to the checkpoint just passed");
    }
}
