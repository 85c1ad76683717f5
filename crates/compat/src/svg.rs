//! Timeline pictures (SVG): each distribution's lifetime as a bar, rows ordered by the libc
//! version it ships, horizontal lines where a tag's required libc version falls, and a
//! vertical line at the date asked about.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use manywheel_policy::{Arch, Libc};

use crate::coverage::Coverage;
use crate::distro::Distro;
use crate::policies::Impact;
use crate::Date;

/// How a row is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Served (green).
    Yes,
    /// Served on some architectures (orange).
    Partial,
    /// Not served / loses wheels (red).
    No,
    /// Not concerned (grey).
    Neutral,
}

impl Mark {
    fn colour(self) -> &'static str {
        match self {
            Mark::Yes => "#2f9e44",
            Mark::Partial => "#e8890c",
            Mark::No => "#e03131",
            Mark::Neutral => "#adb5bd",
        }
    }
}

/// One bar.
#[derive(Clone, Debug)]
pub struct Row {
    pub label: String,
    /// `glibc 2.17`
    pub libc: String,
    /// Short text between the labels and the chart (`3/6 arches`).
    pub note: String,
    pub released: Date,
    pub eol: Option<Date>,
    pub eol_extended: Option<Date>,
    pub mark: Mark,
    /// Tooltip.
    pub title: String,
}

/// A horizontal line drawn above row `before_row` (or below the last row of the group when it
/// equals the group's end).
#[derive(Clone, Debug)]
pub struct Threshold {
    pub before_row: usize,
    pub label: String,
}

/// A section heading above row `start_row`.
#[derive(Clone, Debug)]
pub struct Group {
    pub start_row: usize,
    pub title: String,
}

/// A whole picture.
#[derive(Clone, Debug)]
pub struct Timeline {
    pub title: String,
    pub subtitle: String,
    pub rows: Vec<Row>,
    pub groups: Vec<Group>,
    pub thresholds: Vec<Threshold>,
    pub on: Date,
    pub legend: Vec<(Mark, String)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Width of the picture when the notes fit their column; long notes widen it.
const BASE_WIDTH: f64 = 1280.0;
const NAME_X: f64 = 16.0;
const LIBC_X: f64 = 300.0;
const NOTE_X: f64 = 388.0;
/// Where the chart starts when the notes fit in the 132 px before it.
const BASE_CHART_X: f64 = 520.0;
/// Width of the chart itself (the time axis).
const CHART_W: f64 = BASE_WIDTH - 24.0 - BASE_CHART_X;
/// Average advance of a 12 px DejaVu Sans character, generous, for sizing the note column.
const CHAR_W: f64 = 7.0;
const ROW_H: f64 = 20.0;
const BAR_H: f64 = 12.0;
const GROUP_H: f64 = 26.0;
const TOP: f64 = 108.0;

/// Render the picture.
pub fn render(t: &Timeline) -> String {
    // Time range: whole years around every date shown.
    let mut lo = t.on.year;
    let mut hi = t.on.year;
    for r in &t.rows {
        lo = lo.min(r.released.year);
        for d in [Some(r.released), r.eol, r.eol_extended]
            .into_iter()
            .flatten()
        {
            hi = hi.max(d.year);
        }
    }
    let (y0, y1) = (f64::from(lo), f64::from(hi + 1));
    // The chart starts after the longest note, so no note runs under a bar.
    let longest_note = t
        .rows
        .iter()
        .map(|r| r.note.chars().count())
        .max()
        .unwrap_or(0);
    let chart_x = BASE_CHART_X.max(NOTE_X + longest_note as f64 * CHAR_W + 16.0);
    let width = chart_x + CHART_W + 24.0;
    let x_of = |d: Date| chart_x + (d.as_year_fraction() - y0) / (y1 - y0) * CHART_W;

    // Vertical layout: a row's top y, with group headings in between.
    let mut row_y = Vec::with_capacity(t.rows.len());
    let mut y = TOP;
    for i in 0..t.rows.len() {
        if t.groups.iter().any(|g| g.start_row == i) {
            y += GROUP_H;
        }
        row_y.push(y);
        y += ROW_H;
    }
    let chart_bottom = y;
    let legend_y = chart_bottom + 44.0;
    let height = legend_y + 30.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="12">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="{NAME_X}" y="28" font-size="18" font-weight="bold" fill="#212529">{}</text>"##,
        esc(&t.title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{NAME_X}" y="50" font-size="12" fill="#495057">{}</text>"##,
        esc(&t.subtitle)
    );

    // Zebra stripes behind the rows.
    for (i, ry) in row_y.iter().enumerate() {
        if i % 2 == 0 {
            let _ = writeln!(
                s,
                r##"<rect x="8" y="{ry}" width="{}" height="{ROW_H}" fill="#f1f3f5"/>"##,
                width - 16.0
            );
        }
    }

    // Year grid and axis labels (top and bottom).
    let span = hi + 1 - lo;
    let step = if span > 24 { 2 } else { 1 };
    for year in lo..=hi + 1 {
        let x = x_of(Date::new(year, 1, 1).expect("1 January"));
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{chart_bottom}" stroke="#dee2e6" stroke-width="1"/>"##,
            TOP - 6.0
        );
        if (year - lo) % step == 0 {
            for ty in [TOP - 10.0, chart_bottom + 16.0] {
                let _ = writeln!(
                    s,
                    r##"<text x="{x:.1}" y="{ty}" text-anchor="middle" font-size="11" fill="#495057">{year}</text>"##
                );
            }
        }
    }
    // Column headings.
    let _ = writeln!(
        s,
        r##"<text x="{NAME_X}" y="{}" font-weight="bold" fill="#343a40">distribution</text><text x="{LIBC_X}" y="{}" font-weight="bold" fill="#343a40">libc</text><text x="{NOTE_X}" y="{}" font-weight="bold" fill="#343a40">wheels</text>"##,
        TOP - 10.0,
        TOP - 10.0,
        TOP - 10.0
    );

    // Group headings.
    for g in &t.groups {
        if let Some(ry) = row_y.get(g.start_row) {
            let _ = writeln!(
                s,
                r##"<text x="{NAME_X}" y="{}" font-size="13" font-weight="bold" fill="#212529">{}</text>"##,
                ry - 8.0,
                esc(&g.title)
            );
        }
    }

    // Bars and labels.
    let chart_end = Date::new(hi, 12, 31).expect("31 December");
    for (r, ry) in t.rows.iter().zip(&row_y) {
        let text_y = ry + ROW_H / 2.0 + 4.0;
        let bar_y = ry + (ROW_H - BAR_H) / 2.0;
        let _ = writeln!(
            s,
            r##"<text x="{NAME_X}" y="{text_y}" fill="#212529">{}</text><text x="{LIBC_X}" y="{text_y}" fill="#495057">{}</text><text x="{NOTE_X}" y="{text_y}" fill="{}">{}</text>"##,
            esc(&r.label),
            esc(&r.libc),
            if r.mark == Mark::Neutral {
                "#868e96"
            } else {
                r.mark.colour()
            },
            esc(&r.note)
        );
        let colour = r.mark.colour();
        let x0 = x_of(r.released);
        let open = r.eol.is_none();
        let x1 = x_of(r.eol.unwrap_or(chart_end));
        let _ = write!(
            s,
            r##"<g><title>{}</title><rect x="{x0:.1}" y="{bar_y}" width="{:.1}" height="{BAR_H}" rx="2" fill="{colour}"/>"##,
            esc(&r.title),
            (x1 - x0).max(2.0)
        );
        if open {
            // No end date announced: an arrow head.
            let _ = write!(
                s,
                r##"<path d="M{x1:.1},{} l8,{} l-8,{} z" fill="{colour}"/>"##,
                bar_y - 2.0,
                BAR_H / 2.0 + 2.0,
                BAR_H / 2.0 + 2.0
            );
        }
        if let (Some(eol), Some(ext)) = (r.eol, r.eol_extended) {
            let xe = x_of(ext);
            let _ = write!(
                s,
                r##"<rect x="{x1:.1}" y="{}" width="{:.1}" height="{}" rx="2" fill="{colour}" fill-opacity="0.28" stroke="{colour}" stroke-width="1"/>"##,
                bar_y + 2.0,
                (xe - x_of(eol)).max(1.0),
                BAR_H - 4.0
            );
        }
        let _ = writeln!(s, "</g>");
    }

    // Thresholds: dashed lines with labels at the right end of the chart.
    let mut by_row: Vec<(usize, Vec<&str>)> = Vec::new();
    for th in &t.thresholds {
        match by_row.iter_mut().find(|(r, _)| *r == th.before_row) {
            Some((_, labels)) => labels.push(&th.label),
            None => by_row.push((th.before_row, vec![&th.label])),
        }
    }
    for (row, labels) in by_row {
        // A threshold under the last row of a group sits at that row's bottom edge, above
        // the next group's heading.
        let ly = if row > 0 && t.groups.iter().any(|g| g.start_row == row) {
            row_y[row - 1] + ROW_H
        } else {
            row_y.get(row).copied().unwrap_or(chart_bottom)
        };
        let _ = writeln!(
            s,
            r##"<line x1="8" y1="{ly}" x2="{}" y2="{ly}" stroke="#343a40" stroke-width="1.5" stroke-dasharray="6 4"/>"##,
            width - 8.0
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end" font-size="11" font-weight="bold" fill="#343a40" stroke="#ffffff" stroke-width="4" paint-order="stroke">{}</text>"##,
            width - 24.0,
            ly - 4.0,
            esc(&labels.join("   ·   "))
        );
    }

    // The date asked about.
    let xo = x_of(t.on);
    let _ = writeln!(
        s,
        r##"<line x1="{xo:.1}" y1="{}" x2="{xo:.1}" y2="{chart_bottom}" stroke="#1c7ed6" stroke-width="2"/>"##,
        TOP - 30.0
    );
    let _ = writeln!(
        s,
        r##"<rect x="{:.1}" y="{}" width="84" height="18" rx="3" fill="#1c7ed6"/><text x="{xo:.1}" y="{}" text-anchor="middle" font-size="11" font-weight="bold" fill="#ffffff">{}</text>"##,
        xo - 42.0,
        TOP - 48.0,
        TOP - 35.0,
        t.on
    );

    // Legend.
    let mut lx = NAME_X;
    for (mark, text) in &t.legend {
        let _ = writeln!(
            s,
            r##"<rect x="{lx}" y="{}" width="22" height="{BAR_H}" rx="2" fill="{}"/><text x="{}" y="{}" fill="#212529">{}</text>"##,
            legend_y - BAR_H + 2.0,
            mark.colour(),
            lx + 28.0,
            legend_y,
            esc(text)
        );
        lx += 40.0 + 7.0 * text.chars().count() as f64;
    }
    let _ = writeln!(
        s,
        r##"<rect x="{lx}" y="{}" width="22" height="{}" rx="2" fill="#868e96" fill-opacity="0.28" stroke="#868e96"/><text x="{}" y="{}" fill="#212529">extended support</text>"##,
        legend_y - BAR_H + 4.0,
        BAR_H - 4.0,
        lx + 28.0,
        legend_y
    );
    lx += 160.0;
    let _ = writeln!(
        s,
        r##"<line x1="{lx}" y1="{}" x2="{}" y2="{}" stroke="#1c7ed6" stroke-width="2"/><text x="{}" y="{}" fill="#212529">--on {}</text>"##,
        legend_y - 4.0,
        lx + 22.0,
        legend_y - 4.0,
        lx + 28.0,
        legend_y,
        t.on
    );
    s.push_str("</svg>\n");
    s
}

/// Rows ordered for a timeline: glibc then musl, newest libc first, then by release date.
fn ordered<'a>(distros: &'a [Distro], ids: &BTreeSet<&str>) -> Vec<&'a Distro> {
    let mut v: Vec<&Distro> = distros
        .iter()
        .filter(|d| ids.contains(d.id.as_str()))
        .collect();
    v.sort_by(|a, b| {
        (a.libc, std::cmp::Reverse(a.version), a.released).cmp(&(
            b.libc,
            std::cmp::Reverse(b.version),
            b.released,
        ))
    });
    v
}

fn groups_and_thresholds(
    rows: &[&Distro],
    lines: &[(Libc, (u32, u32), String)],
) -> (Vec<Group>, Vec<Threshold>) {
    let mut groups = Vec::new();
    for libc in [Libc::Glibc, Libc::Musl] {
        if let Some(start) = rows.iter().position(|d| d.libc == libc) {
            groups.push(Group {
                start_row: start,
                title: format!("{libc} distributions"),
            });
        }
    }
    let mut thresholds = Vec::new();
    for (libc, version, label) in lines {
        let Some(start) = rows.iter().position(|d| d.libc == *libc) else {
            continue;
        };
        let end = rows
            .iter()
            .rposition(|d| d.libc == *libc)
            .map_or(start, |e| e + 1);
        let at = (start..end)
            .find(|&i| rows[i].version < *version)
            .unwrap_or(end);
        thresholds.push(Threshold {
            before_row: at,
            label: label.clone(),
        });
    }
    (groups, thresholds)
}

fn arch_list(arches: &[Arch]) -> String {
    arches
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The picture of a coverage answer.
pub fn coverage_timeline(c: &Coverage, distros: &[Distro]) -> Timeline {
    let ids: BTreeSet<&str> = c
        .distros
        .iter()
        .filter(|d| !d.pairs.is_empty())
        .map(|d| d.id.as_str())
        .collect();
    let rows_d = ordered(distros, &ids);
    // One line per required libc version, naming the architectures when not all need it.
    struct Need {
        libc: Libc,
        version: (u32, u32),
        policy: String,
        arches: Vec<Arch>,
    }
    let mut needs: Vec<Need> = Vec::new();
    for t in c.inputs.iter().flat_map(|i| &i.tags) {
        let (Some(libc), Some(v), Some(policy)) = (t.libc(), t.version(), t.policy_name()) else {
            continue;
        };
        let i = match needs.iter().position(|n| n.libc == libc && n.version == v) {
            Some(i) => i,
            None => {
                needs.push(Need {
                    libc,
                    version: v,
                    policy,
                    arches: Vec::new(),
                });
                needs.len() - 1
            }
        };
        if let Some(a) = t.parsed_arch().filter(|a| c.arches.contains(a)) {
            if !needs[i].arches.contains(&a) {
                needs[i].arches.push(a);
            }
        }
    }
    let lines: Vec<(Libc, (u32, u32), String)> = needs
        .into_iter()
        .filter(|n| !n.arches.is_empty())
        .map(|mut n| {
            n.arches.sort();
            let which = if n.arches.len() == c.arches.len() {
                String::new()
            } else {
                format!(" ({})", arch_list(&n.arches))
            };
            let (libc, v) = (n.libc, n.version);
            (
                libc,
                v,
                format!("{}{which} needs {libc} ≥ {}.{}", n.policy, v.0, v.1),
            )
        })
        .collect();
    let (groups, thresholds) = groups_and_thresholds(&rows_d, &lines);
    let rows = rows_d
        .iter()
        .map(|d| {
            let cov = c.distros.iter().find(|x| x.id == d.id).expect("row");
            let have = cov.pairs.iter().filter(|p| p.wheel.is_some()).count();
            let mark = if cov.full() {
                Mark::Yes
            } else if cov.none() {
                Mark::No
            } else {
                Mark::Partial
            };
            let missing: Vec<Arch> = cov
                .pairs
                .iter()
                .filter(|p| p.wheel.is_none())
                .map(|p| p.arch)
                .collect();
            let title = if missing.is_empty() {
                format!(
                    "{}: a wheel for every architecture; {}",
                    d.name,
                    d.status_text(c.on)
                )
            } else {
                format!(
                    "{}: no wheel for {}; {}",
                    d.name,
                    arch_list(&missing),
                    d.status_text(c.on)
                )
            };
            Row {
                label: d.name.clone(),
                libc: d.libc_label(),
                note: format!("{have}/{} with wheel", cov.pairs.len()),
                released: d.released,
                eol: d.eol,
                eol_extended: d.eol_extended,
                mark,
                title,
            }
        })
        .collect();
    let n = c.inputs.len();
    Timeline {
        title: format!(
            "Who can install {}",
            if n == 1 {
                c.inputs[0].input.clone()
            } else {
                format!("these {n} wheels")
            }
        ),
        subtitle: format!(
            "architectures: {} · bars: release to end of {}support · as of {}",
            arch_list(&c.arches),
            if c.extended { "extended " } else { "regular " },
            c.on
        ),
        rows,
        groups,
        thresholds,
        on: c.on,
        legend: vec![
            (Mark::Yes, "wheel for every architecture".to_string()),
            (Mark::Partial, "for some architectures".to_string()),
            (Mark::No, "no wheel: builds from source".to_string()),
        ],
    }
}

fn with_alias(p: &crate::policies::PolicyRef) -> String {
    match p.aliases.first() {
        Some(a) => format!("{} ({a})", p.name),
        None => p.name.clone(),
    }
}

/// The picture of an impact answer.
pub fn impact_timeline(i: &Impact, distros: &[Distro]) -> Timeline {
    let ids: BTreeSet<&str> = distros
        .iter()
        .filter(|d| d.libc == i.from.libc && i.arches.iter().any(|a| d.has_arch(*a)))
        .map(|d| d.id.as_str())
        .collect();
    let rows_d = ordered(distros, &ids);
    let label = |p: &crate::policies::PolicyRef| {
        let alias = p
            .aliases
            .first()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        format!("{}{alias} needs {} ≥ {}", p.name, p.libc, p.version)
    };
    let lines = vec![
        (i.from.libc, i.from.version_pair, label(&i.from)),
        (i.to.libc, i.to.version_pair, label(&i.to)),
    ];
    let (groups, thresholds) = groups_and_thresholds(&rows_d, &lines);
    let all_rows = |b: &crate::policies::Buckets| {
        b.supported
            .iter()
            .chain(&b.eol)
            .chain(&b.unreleased)
            .cloned()
            .collect::<Vec<_>>()
    };
    let lost = all_rows(&i.lose);
    let gained = all_rows(&i.gain);
    let rows = rows_d
        .iter()
        .map(|d| {
            let (mark, note, what) = if let Some(r) = lost.iter().find(|r| r.id == d.id) {
                (
                    Mark::No,
                    format!("loses {}", arch_list(&r.arches)),
                    "loses binary wheels",
                )
            } else if let Some(r) = gained.iter().find(|r| r.id == d.id) {
                (
                    Mark::Yes,
                    format!("gains {}", arch_list(&r.arches)),
                    "gains binary wheels",
                )
            } else if i
                .arches
                .iter()
                .any(|a| d.has_arch(*a) && d.version >= i.to.version_pair)
            {
                (Mark::Yes, "keeps wheels".to_string(), "keeps binary wheels")
            } else {
                (
                    Mark::Neutral,
                    "never had wheels".to_string(),
                    "had no wheels before either",
                )
            };
            Row {
                label: d.name.clone(),
                libc: d.libc_label(),
                note,
                released: d.released,
                eol: d.eol,
                eol_extended: d.eol_extended,
                mark,
                title: format!("{}: {what}; {}", d.name, d.status_text(i.on)),
            }
        })
        .collect();
    let n_sup = i.lose.supported.len();
    Timeline {
        title: format!(
            "Moving the baseline from {} to {}",
            with_alias(&i.from),
            with_alias(&i.to)
        ),
        subtitle: format!(
            "{} distribution{} still supported on {} lose binary wheels ({}) · bars: release to end of {}support",
            n_sup,
            if n_sup == 1 { "" } else { "s" },
            i.on,
            arch_list(&i.arches),
            if i.extended { "extended " } else { "regular " },
        ),
        rows,
        groups,
        thresholds,
        on: i.on,
        legend: vec![
            (Mark::No, "loses binary wheels".to_string()),
            (Mark::Yes, "keeps (or gains) them".to_string()),
            (Mark::Neutral, "had none before either".to_string()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distro::distros;
    use crate::policies::{impact, resolve};

    #[test]
    fn impact_picture_is_well_formed() {
        let on: Date = "2017-04-08".parse().unwrap();
        let i = impact(
            resolve("manylinux1").unwrap(),
            resolve("manylinux2010").unwrap(),
            distros(),
            on,
            false,
            None,
        )
        .unwrap();
        let t = impact_timeline(&i, distros());
        assert_eq!(t.thresholds.len(), 2);
        let svg = render(&t);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("CentOS 5"));
        assert!(svg.contains("2017-04-08"));
        assert_eq!(svg.matches("<g>").count(), svg.matches("</g>").count());
    }
}
