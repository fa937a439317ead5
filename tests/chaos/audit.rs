//! The chaos test's checker, apart from the processes so that it can be fed
//! hand-made bad histories (the tests below prove every check bites).
//!
//! The fenced-log module appends `entry/N` (text `N WRITER TOKEN`) and then
//! sets `counter` to N + 1, both fenced. An entry below the counter is
//! therefore committed: its writer finished the entry before moving the
//! counter past it. Entries at or above the counter may legitimately be
//! written again (a leader stopped between its two writes leaves its entry
//! to the next one), so only committed entries are held to anything.
//!
//! Read as the log grows and once more at the end, the committed log must be
//! whole (no number missing), hold no duplicate (every entry names its own
//! number; one fencing token never names two writers), keep fencing tokens
//! from going down, and never change: an entry read once must read the same
//! at the end, and the counter must never go down. Those are the marks a
//! second leader acting at the same instant would leave.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use elector_statestore::Hlc;

/// One committed entry, as first read.
#[derive(Clone, Debug)]
struct Entry {
    text: String,
    writer: String,
    token: Hlc,
}

impl Entry {
    /// Parses `N WRITER TOKEN`, which must name `number`.
    fn parse(number: u64, text: &str) -> Result<Entry, String> {
        let fields: Vec<&str> = text.split(' ').collect();
        let [named, writer, token] = fields.as_slice() else {
            return Err(format!("entry {number} is malformed: {text:?}"));
        };
        if named.parse::<u64>() != Ok(number) {
            return Err(format!(
                "entry {number} names number {named} ({text:?}): a duplicate of another \
                 entry, or an entry written under the wrong number"
            ));
        }
        let token = token
            .parse()
            .map_err(|error| format!("entry {number} has no valid token ({text:?}): {error}"))?;
        Ok(Entry {
            text: text.to_owned(),
            writer: (*writer).to_owned(),
            token,
        })
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

/// What the log looked like each time it was read, and the checks on it.
#[derive(Default)]
pub struct LogAudit {
    /// The highest counter read so far.
    counter: u64,
    /// Committed entries in number order, as first read.
    entries: Vec<Entry>,
    /// Who wrote under each token: one election has one winner.
    writer_of: HashMap<Hlc, String>,
    /// Changes of writer from one entry to the next.
    hand_overs: u64,
}

impl LogAudit {
    /// The counter as just read. It never goes down: a lower counter would
    /// have the next leader write committed numbers again.
    pub fn counter_read(&mut self, counter: u64) -> Result<(), String> {
        if counter < self.counter {
            return Err(format!(
                "the counter went down from {} to {counter}: committed entries would be \
                 written again",
                self.counter
            ));
        }
        self.counter = counter;
        Ok(())
    }

    /// Committed numbers not read yet.
    pub fn unread(&self) -> Range<u64> {
        self.written()..self.counter
    }

    /// The first read of the next unread entry (`None`: the key is absent).
    pub fn first_read(&mut self, number: u64, text: Option<&str>) -> Result<(), String> {
        assert_eq!(number, self.written(), "entries are read in order");
        let text = text.ok_or_else(|| {
            format!(
                "entry {number} is missing although the counter is {}: a gap in the log",
                self.counter
            )
        })?;
        let entry = Entry::parse(number, text)?;
        self.check_term(number, &entry)?;
        if let Some(previous) = self.entries.last() {
            if previous.token.is_newer_than(&entry.token) {
                return Err(format!(
                    "entry {number} {entry} has a token older than entry {} {previous}: a \
                     write of an older term landed after a newer one",
                    number - 1
                ));
            }
            if previous.writer != entry.writer {
                self.hand_overs += 1;
            }
        }
        self.entries.push(entry);
        Ok(())
    }

    /// One token, one writer: two replicas writing under the same token
    /// would be two leaders of the same term.
    fn check_term(&mut self, number: u64, entry: &Entry) -> Result<(), String> {
        let writer = self
            .writer_of
            .entry(entry.token.clone())
            .or_insert_with(|| entry.writer.clone());
        if *writer != entry.writer {
            return Err(format!(
                "entry {number} {entry} names writer {} under a token {writer} wrote under: \
                 two leaders of one term",
                entry.writer
            ));
        }
        Ok(())
    }

    /// A later read of an entry already read: it must be unchanged.
    pub fn reread(&self, number: u64, text: Option<&str>) -> Result<(), String> {
        let first = &self.entries[usize::try_from(number).expect("a small number")];
        match text {
            None => Err(format!("entry {number} {first} vanished after it was read")),
            Some(text) if text != first.text => Err(format!(
                "entry {number} was overwritten: first read {first}, now {text:?}"
            )),
            Some(_) => Ok(()),
        }
    }

    /// Committed entries read so far.
    pub fn written(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Changes of writer along the log (the first writer is no hand-over).
    pub fn hand_overs(&self) -> u64 {
        self.hand_overs
    }

    /// Distinct fencing tokens (an election or a renewal each) that wrote.
    pub fn tokens(&self) -> usize {
        self.writer_of.len()
    }
}

/// Progress while the faults go on: the committed log must grow by at least
/// `minimum` entries in every window of `window` cycles, so a run in which
/// nobody writes for a long stretch fails even if writing resumes later.
pub struct Progress {
    window: u64,
    minimum: u64,
    cycles: u64,
    at_window_start: u64,
    /// The least growth of any finished window.
    least: Option<u64>,
}

impl Progress {
    pub fn new(window: u64, minimum: u64, written: u64) -> Progress {
        assert!(window > 0, "a window has cycles");
        Progress {
            window,
            minimum,
            cycles: 0,
            at_window_start: written,
            least: None,
        }
    }

    /// One cycle done, with `written` committed entries read so far.
    pub fn cycle_done(&mut self, written: u64) -> Result<(), String> {
        self.cycles += 1;
        if !self.cycles.is_multiple_of(self.window) {
            return Ok(());
        }
        let grown = written.saturating_sub(self.at_window_start);
        self.least = Some(self.least.map_or(grown, |least| least.min(grown)));
        self.at_window_start = written;
        if grown < self.minimum {
            return Err(format!(
                "only {grown} entries written in cycles {}-{} (at least {} wanted in every \
                 {} cycles): the log stalled under the faults",
                self.cycles - self.window + 1,
                self.cycles,
                self.minimum,
                self.window
            ));
        }
        Ok(())
    }

    /// The least growth of any finished window (`None` before the first).
    pub fn least(&self) -> Option<u64> {
        self.least
    }
}

/// The hand-overs a run of `cycles` must show at least: one per
/// `cycles_per_hand_over` cycles, and at least one.
pub fn hand_overs_wanted(cycles: u64, cycles_per_hand_over: u64) -> u64 {
    (cycles / cycles_per_hand_over).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "1000:0:n";
    const T2: &str = "2000:3:n";

    /// An audit that has read `entries` below a counter of their number.
    fn audited(entries: &[&str]) -> Result<LogAudit, String> {
        let mut audit = LogAudit::default();
        audit.counter_read(entries.len() as u64)?;
        for (number, text) in (0..).zip(entries) {
            audit.first_read(number, Some(text))?;
        }
        Ok(audit)
    }

    fn fails_with(result: Result<impl Sized, String>, words: &str) {
        match result {
            Ok(_) => panic!("the checker let a bad history through (wanted {words:?})"),
            Err(message) => assert!(message.contains(words), "{message}"),
        }
    }

    #[test]
    fn a_whole_log_passes_and_counts_changes_of_writer_after_the_first() {
        let log = [
            format!("0 r1 {T1}"),
            format!("1 r1 {T1}"),
            format!("2 r2 {T2}"),
            "3 r1 3000:0:n".to_owned(),
        ];
        let log: Vec<&str> = log.iter().map(String::as_str).collect();
        let audit = audited(&log).unwrap();
        assert_eq!(audit.written(), 4);
        assert_eq!(audit.hand_overs(), 2);
        assert_eq!(audit.tokens(), 3);
        assert_eq!(audit.unread(), 4..4);
        for (number, text) in (0..).zip(&log) {
            audit.reread(number, Some(text)).unwrap();
        }
    }

    #[test]
    fn a_gap_fails() {
        let mut audit = LogAudit::default();
        audit.counter_read(1).unwrap();
        fails_with(audit.first_read(0, None), "a gap");
    }

    #[test]
    fn an_entry_under_another_number_fails_as_a_duplicate() {
        fails_with(
            audited(&[&format!("0 r1 {T1}"), &format!("0 r1 {T1}")]),
            "names number 0",
        );
    }

    #[test]
    fn a_token_going_down_fails() {
        fails_with(
            audited(&[&format!("0 r2 {T2}"), &format!("1 r1 {T1}")]),
            "older than entry 0",
        );
    }

    #[test]
    fn one_token_with_two_writers_fails() {
        fails_with(
            audited(&[&format!("0 r1 {T1}"), &format!("1 r2 {T1}")]),
            "two leaders of one term",
        );
    }

    #[test]
    fn an_entry_without_a_token_fails() {
        fails_with(audited(&["0 r1"]), "malformed");
        fails_with(audited(&["0 r1 none"]), "no valid token");
    }

    #[test]
    fn the_counter_going_down_fails() {
        let mut audit = LogAudit::default();
        audit.counter_read(5).unwrap();
        fails_with(audit.counter_read(4), "went down");
    }

    #[test]
    fn an_entry_changed_or_gone_after_its_first_read_fails() {
        let first = format!("0 r1 {T1}");
        let audit = audited(&[&first]).unwrap();
        fails_with(audit.reread(0, Some(&format!("0 r2 {T2}"))), "overwritten");
        fails_with(audit.reread(0, None), "vanished");
    }

    #[test]
    fn a_window_without_enough_entries_fails() {
        let mut progress = Progress::new(2, 3, 10);
        progress.cycle_done(11).unwrap();
        progress.cycle_done(13).unwrap(); // 3 in cycles 1-2
        progress.cycle_done(14).unwrap();
        fails_with(
            progress.cycle_done(15),
            "only 2 entries written in cycles 3-4",
        );
        assert_eq!(progress.least(), Some(2));
    }

    #[test]
    fn the_hand_overs_wanted_grow_with_the_cycles() {
        assert_eq!(hand_overs_wanted(50, 15), 3);
        assert_eq!(hand_overs_wanted(5, 15), 1);
    }
}
