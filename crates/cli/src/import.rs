//! Bulk import of persons and employers from CSV or JSON Lines.
//!
//! Two passes: the whole file is validated first (the first bad row stops
//! the import with its line number and field, nothing written); then rows
//! are written in chunks with a progress bar.

use crate::usage;
use indicatif::{ProgressBar, ProgressStyle};
use kruispunt_domain::clock::Timestamp;
use kruispunt_domain::registers::{Address, Employer, EmployerInput, Person, PersonInput};
use kruispunt_store::Store;
use serde::Deserialize;
use std::path::Path;

const CHUNK: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PersonCsv {
    ssin: String,
    last_name: String,
    first_name: String,
    birth_date: Option<String>,
    sex: Option<String>,
    nationality: Option<String>,
    death_date: Option<String>,
    street: Option<String>,
    house_number: Option<String>,
    postal_code: Option<String>,
    municipality: Option<String>,
    country: Option<String>,
}

impl From<PersonCsv> for PersonInput {
    fn from(r: PersonCsv) -> Self {
        let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let address = blank(r.street.clone()).map(|street| Address {
            street,
            house_number: r.house_number.clone().unwrap_or_default(),
            postal_code: r.postal_code.clone().unwrap_or_default(),
            municipality: r.municipality.clone().unwrap_or_default(),
            country: r.country.clone().unwrap_or_else(|| "BE".into()),
        });
        PersonInput {
            ssin: r.ssin,
            last_name: r.last_name,
            first_name: r.first_name,
            birth_date: blank(r.birth_date),
            sex: blank(r.sex),
            nationality: blank(r.nationality),
            address,
            death_date: blank(r.death_date),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EmployerCsv {
    employer_id: String,
    enterprise_number: String,
    name: String,
    joint_committee: Option<String>,
}

fn is_jsonl(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "ndjson" | "json")
    )
}

type Rows<R> = Box<dyn Iterator<Item = anyhow::Result<(usize, R)>>>;

/// The rows of a CSV (header line first) or JSON Lines file, with their
/// line numbers, read lazily.
fn rows<R>(path: &Path) -> anyhow::Result<Rows<R>>
where
    R: for<'de> Deserialize<'de> + 'static,
{
    let file = std::fs::File::open(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    if is_jsonl(path) {
        use std::io::BufRead;
        Ok(Box::new(
            std::io::BufReader::new(file)
                .lines()
                .enumerate()
                .filter(|(_, l)| l.as_ref().map(|l| !l.trim().is_empty()).unwrap_or(true))
                .map(|(i, line)| {
                    let line = line.map_err(|e| usage(format!("line {}: {e}", i + 1)))?;
                    let row = serde_json::from_str(&line)
                        .map_err(|e| usage(format!("line {}: {e}", i + 1)))?;
                    Ok((i + 1, row))
                }),
        ))
    } else {
        let reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(file);
        Ok(Box::new(reader.into_deserialize::<R>().enumerate().map(
            |(i, row)| {
                // Line numbers count the header as line 1.
                let row = row.map_err(|e| usage(format!("line {}: {e}", i + 2)))?;
                Ok((i + 2, row))
            },
        )))
    }
}

fn person_rows(path: &Path) -> anyhow::Result<Box<dyn Iterator<Item = anyhow::Result<Person>>>> {
    let check = |(line, input): (usize, PersonInput)| -> anyhow::Result<Person> {
        input
            .validate()
            .map_err(|e| usage(format!("line {line}: {}: {}", e.field, e.message)))
    };
    Ok(if is_jsonl(path) {
        Box::new(rows::<PersonInput>(path)?.map(move |r| r.and_then(check)))
    } else {
        Box::new(
            rows::<PersonCsv>(path)?
                .map(move |r| r.and_then(|(line, csv)| check((line, csv.into())))),
        )
    })
}

fn bar(total: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

pub async fn persons(store: &Store, path: &Path, now: Timestamp) -> anyhow::Result<()> {
    // Pass 1: validate everything; the first bad row stops the import.
    let mut total = 0usize;
    for p in person_rows(path)? {
        p?;
        total += 1;
    }
    // Pass 2: write in chunks (memory stays flat for large files).
    let bar = bar(total, "persons");
    let mut written = 0usize;
    let mut chunk: Vec<Person> = Vec::with_capacity(CHUNK);
    let mut iter = person_rows(path)?;
    loop {
        let next = iter.next().transpose()?;
        let done = next.is_none();
        if let Some(p) = next {
            chunk.push(p);
        }
        if chunk.len() == CHUNK || (done && !chunk.is_empty()) {
            store.bulk_upsert_persons(&chunk, now).await?;
            written += chunk.len();
            chunk.clear();
            bar.set_position(written as u64);
        }
        if done {
            break;
        }
    }
    bar.finish_and_clear();
    println!("{written} persons imported");
    Ok(())
}

pub async fn employers(store: &Store, path: &Path, now: Timestamp) -> anyhow::Result<()> {
    let check = |line: usize, input: EmployerInput| -> anyhow::Result<Employer> {
        input
            .validate()
            .map_err(|e| usage(format!("line {line}: {}: {}", e.field, e.message)))
    };
    let all: Vec<Employer> = if is_jsonl(path) {
        rows::<EmployerInput>(path)?
            .map(|r| r.and_then(|(line, i)| check(line, i)))
            .collect::<anyhow::Result<_>>()?
    } else {
        rows::<EmployerCsv>(path)?
            .map(|r| {
                r.and_then(|(line, r)| {
                    check(
                        line,
                        EmployerInput {
                            employer_id: r.employer_id,
                            enterprise_number: r.enterprise_number,
                            name: r.name,
                            joint_committee: r.joint_committee.filter(|s| !s.trim().is_empty()),
                            address: None,
                        },
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let bar = bar(all.len(), "employers");
    // One transaction: an existing employer refuses the whole file.
    store
        .bulk_insert_employers(&all, false, now)
        .await
        .map_err(|e| match e {
            kruispunt_store::StoreError::Conflict { .. } => {
                usage(format!("{e}; nothing was imported"))
            }
            other => other.into(),
        })?;
    bar.finish_and_clear();
    println!("{} employers imported", all.len());
    Ok(())
}
