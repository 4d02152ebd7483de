//! The numbers behind the charts: free pages per order along the played
//! trace, the fragmentation index per order, and what each operation of the
//! session cost. Front ends draw them; the computing is here, tested.

use pfnscope_core::{Machine, VmEvent};

use crate::session::Session;

/// What one operation of the session cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpCost {
    pub title: String,
    pub ok: bool,
    /// Pages migrated (`PGMIGRATE_SUCCESS`).
    pub migrated: i64,
    /// Pages that failed to migrate (`PGMIGRATE_FAIL`).
    pub migrate_failed: i64,
    /// Pageblocks that failed isolation.
    pub isolate_failed: i64,
}

/// The counters an [`OpCost`] is the difference of.
pub fn cost_counters(m: &Machine) -> [i64; 3] {
    [m.vm_event(VmEvent::MigrateSuccess), m.vm_event(VmEvent::MigrateFail), m.vm_event(VmEvent::IsolateFail)]
}

/// Free pages per order, summed over the zones.
pub fn free_pages_per_order(m: &Machine) -> Vec<u64> {
    (0..=m.geometry().max_order)
        .map(|o| (0..m.zones().len()).map(|zi| m.nr_free(zi, o) << o).sum())
        .collect()
}

/// The fragmentation index per order of the zone with the most managed
/// pages (vmstat's `__fragmentation_index`; `None` without free memory).
pub fn fragmentation_index(m: &Machine) -> (String, Vec<Option<i64>>) {
    let zi = (0..m.zones().len()).max_by_key(|&zi| m.zones()[zi].managed_pages).unwrap_or(0);
    let name = m.zones()[zi].name().to_string();
    (name, (0..=m.geometry().max_order).map(|o| m.fragmentation_index(zi, o)).collect())
}

/// Free pages per order at up to `max_points` steps of the played trace,
/// as (step, values); the player's position is restored afterwards.
pub fn free_pages_along_trace(s: &mut Session, max_points: usize) -> Vec<(usize, Vec<u64>)> {
    let Some(p) = &s.player else { return Vec::new() };
    let (len, cursor) = (p.len(), p.cursor);
    if len == 0 {
        return Vec::new();
    }
    let stride = len.div_ceil(max_points.max(2) - 1).max(1);
    let mut steps: Vec<usize> = (0..len).step_by(stride).collect();
    if steps.last() != Some(&(len - 1)) {
        steps.push(len - 1);
    }
    let mut out = Vec::with_capacity(steps.len() + 1);
    s.seek_quietly(None);
    out.push((0, free_pages_per_order(&s.machine)));
    for i in steps {
        s.seek_quietly(Some(i));
        out.push((i + 1, free_pages_per_order(&s.machine)));
    }
    s.seek_quietly(cursor);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pfnscope_core::{MachineSpec, Op, Scenario};

    #[test]
    fn free_pages_per_order_sums_the_zones() {
        let m = Machine::new(MachineSpec::teaching_64m()).unwrap();
        let v = free_pages_per_order(&m);
        assert_eq!(v.len(), 11);
        let total: u64 = v.iter().sum();
        let counted: i64 = (0..3).map(|zi| m.zone_free_pages(zi)).sum();
        // NR_FREE_PAGES leaves out nothing at boot (no isolated blocks).
        assert_eq!(total as i64, counted);
    }

    #[test]
    fn the_trace_series_starts_before_the_first_step_and_restores_the_player() {
        let mut s = Session::new(&Scenario { steps: 2000, ..Scenario::default() }, 100, 100).unwrap();
        s.step_by(3);
        let before = s.player.as_ref().unwrap().cursor;
        let series = free_pages_along_trace(&mut s, 10);
        assert!(series.len() >= 3 && series.len() <= 11, "{}", series.len());
        assert_eq!(series[0].0, 0);
        assert_eq!(series.last().unwrap().0, s.player.as_ref().unwrap().len());
        assert_eq!(s.player.as_ref().unwrap().cursor, before);
        // The grab takes 512 pages out of the free lists by its last step.
        let first: u64 = series[0].1.iter().sum();
        let last: u64 = series.last().unwrap().1.iter().sum();
        assert!(last < first, "{first} -> {last}");
    }

    #[test]
    fn operation_costs_come_from_counter_differences() {
        let mut s = Session::new(&Scenario { steps: 2000, play: None, ..Scenario::default() }, 100, 100).unwrap();
        let _ = s.run_op(&Op::AllocContigRange { start: 0x1000, end: 0x1200, cma: false });
        let _ = s.run_op(&Op::AllocContigRange { start: 0x3400, end: 0x3600, cma: false });
        assert_eq!(s.history.len(), 2);
        assert!(!s.history[0].ok && s.history[0].isolate_failed >= 1, "{:?}", s.history[0]);
        assert!(s.history[1].ok, "{:?}", s.history[1]);
        let (zone, fi) = fragmentation_index(&s.machine);
        assert_eq!(zone, "Normal");
        assert_eq!(fi.len(), 11);
    }
}
