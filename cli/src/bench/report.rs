//! Result rows: a latency distribution or a few named figures, with the
//! goal the number is held to, printed as a table or as JSON lines.

use std::io::Write as _;

use serde::Serialize;

use super::stats::{self, Summary};

/// One measured result.
#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub store: String,
    /// Present for latency measurements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// Named numbers; each name ends in its unit (`_us`, `_kib`, `_pct`, …).
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "as_map")]
    pub figures: Vec<Figure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
    /// Samples that broke a safety property. They are never folded into
    /// the figures above, and a row with one fails its scenario.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violation: Option<Violation>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub samples: usize,
    #[serde(flatten)]
    pub summary: Summary,
}

/// A named number whose name ends in its unit.
#[derive(Clone, Debug)]
pub struct Figure {
    pub name: &'static str,
    pub value: f64,
}

impl Figure {
    pub fn new(name: &'static str, value: f64) -> Figure {
        Figure { name, value }
    }

    fn human(&self) -> String {
        let label = self
            .name
            .rsplit_once('_')
            .map_or(self.name, |(label, _)| label);
        let value = match self.name.rsplit('_').next() {
            Some("us") => stats::human(self.value),
            Some("ms") => stats::human(self.value * 1e3),
            Some("kib") => format!("{:.1} KiB", self.value),
            Some("mib") => format!("{:.1} MiB", self.value),
            Some("pct") => format!("{:.2} %", self.value),
            Some("x") => format!("{:.3}×", self.value),
            Some("count") => format!("{:.1}", self.value),
            Some("s") if self.name.ends_with("per_s") => format!("{:.0}/s", self.value),
            _ => format!("{}", self.value),
        };
        let label = label.trim_end_matches("_per");
        format!("{label} {value}")
    }
}

fn as_map<S: serde::Serializer>(figures: &[Figure], serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(figures.len()))?;
    for figure in figures {
        map.serialize_entry(figure.name, &figure.value)?;
    }
    map.end()
}

/// The number a result is held to, and whether it got there.
#[derive(Clone, Debug, Serialize)]
pub struct Goal {
    pub wanted: String,
    pub met: bool,
}

impl Goal {
    pub fn at_most(wanted: &str, measured: f64, limit: f64) -> Goal {
        Goal {
            wanted: wanted.into(),
            met: measured <= limit,
        }
    }

    /// Both goals, described together.
    pub fn and(self, other: Goal) -> Goal {
        Goal {
            wanted: format!("{}, {}", self.wanted, other.wanted),
            met: self.met && other.met,
        }
    }
}

/// Samples that broke a safety property: what broke, how often, and by how
/// much at worst. A bench that folded such a sample into a latency (as a
/// clamped 0 µs, say) would report an anomaly as a perfect result.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Violation {
    pub what: String,
    pub count: usize,
    /// The worst sample's distance past what is allowed, in µs.
    pub worst_us: f64,
}

impl Violation {
    /// One line for the table and for the error the run ends with.
    pub fn describe(&self) -> String {
        format!(
            "VIOLATION: {} × {}, worst by {}",
            self.count,
            self.what,
            stats::human(self.worst_us)
        )
    }
}

impl Row {
    pub fn latency(
        scenario: impl Into<String>,
        store: impl Into<String>,
        samples: &[std::time::Duration],
    ) -> Row {
        Row {
            scenario: scenario.into(),
            store: store.into(),
            latency: Some(Latency {
                samples: samples.len(),
                summary: Summary::of(samples),
            }),
            figures: Vec::new(),
            goal: None,
            violation: None,
        }
    }

    pub fn figures(
        scenario: impl Into<String>,
        store: impl Into<String>,
        figures: Vec<Figure>,
    ) -> Row {
        Row {
            scenario: scenario.into(),
            store: store.into(),
            latency: None,
            figures,
            goal: None,
            violation: None,
        }
    }

    pub fn with_figure(mut self, name: &'static str, value: f64) -> Row {
        self.figures.push(Figure::new(name, value));
        self
    }

    pub fn with_goal(mut self, goal: Goal) -> Row {
        self.goal = Some(goal);
        self
    }

    /// Records a violation; the goal, if any, can then no longer be met.
    pub fn with_violation(mut self, violation: Violation) -> Row {
        if let Some(goal) = &mut self.goal {
            goal.met = false;
        }
        self.violation = Some(violation);
        self
    }

    /// The latency summary; rows built with [`Row::latency`] have one.
    pub fn summary(&self) -> &Summary {
        &self.latency.as_ref().expect("a latency row").summary
    }

    fn result_text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(latency) = &self.latency {
            let s = &latency.summary;
            parts.push(format!(
                "median {}  p99 {}  max {}  (n={})",
                stats::human(s.median_us),
                stats::human(s.p99_us),
                stats::human(s.max_us),
                latency.samples
            ));
        }
        parts.extend(self.figures.iter().map(Figure::human));
        parts.extend(self.violation.iter().map(Violation::describe));
        parts.join("; ")
    }
}

/// Writes the rows as an aligned table, or one JSON object per line.
pub fn print(rows: &[Row], json: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        for row in rows {
            let line = serde_json::to_string(row).map_err(std::io::Error::other)?;
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    let width = rows
        .iter()
        .map(|r| r.scenario.chars().count())
        .max()
        .unwrap_or(8);
    let store_width = rows
        .iter()
        .map(|r| r.store.chars().count())
        .chain([5])
        .max()
        .unwrap_or(5);
    writeln!(
        out,
        "{:<width$}  {:<store_width$}  result",
        "scenario", "store"
    )?;
    for row in rows {
        let goal = match &row.goal {
            Some(goal) if goal.met => format!("   [goal {}: met]", goal.wanted),
            Some(goal) => format!("   [goal {}: MISSED]", goal.wanted),
            None => String::new(),
        };
        writeln!(
            out,
            "{:<width$}  {:<store_width$}  {}{goal}",
            row.scenario,
            row.store,
            row.result_text()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_print_with_their_units_and_serialize_as_a_map() {
        assert_eq!(
            Figure::new("rss_per_candidate_kib", 34.25).human(),
            "rss_per_candidate 34.2 KiB"
        );
        assert_eq!(Figure::new("overhead_us", 2.5).human(), "overhead 2.5 µs");
        assert_eq!(
            Figure::new("maps_per_candidate_count", 5.5).human(),
            "maps_per_candidate 5.5"
        );
        assert_eq!(Figure::new("ratio_x", 1.0123).human(), "ratio 1.012×");
        assert_eq!(Figure::new("ops_per_s", 12345.0).human(), "ops 12345/s");
        let row = Row::figures("s", "embedded", vec![Figure::new("size_kib", 128.0)])
            .with_goal(Goal::at_most("≤ 150 KiB", 128.0, 150.0));
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["figures"]["size_kib"], 128.0);
        assert_eq!(json["goal"]["met"], true);
        assert!(json.get("latency").is_none());
    }

    #[test]
    fn a_violation_shows_in_the_table_and_unmeets_the_goal() {
        let row = Row::figures("s", "mqtt", vec![Figure::new("x_us", 1.0)])
            .with_goal(Goal::at_most("≤ 2 µs", 1.0, 2.0))
            .with_violation(Violation {
                what: "early takeover".into(),
                count: 3,
                worst_us: 1_500.0,
            });
        assert_eq!(
            row.result_text(),
            "x 1.0 µs; VIOLATION: 3 × early takeover, worst by 1.50 ms"
        );
        assert!(!row.goal.unwrap().met);
    }

    #[test]
    fn goals_combine() {
        let both = Goal::at_most("a", 1.0, 2.0).and(Goal::at_most("b", 3.0, 2.0));
        assert!(!both.met);
        assert_eq!(both.wanted, "a, b");
    }
}
