//! Pick-list allocation: for each order line, packages of the item in first-expired-first-out
//! order, then first-in-first-out; whole packages where they fit, and one split for the
//! remainder. Pure, so the phone and the server allocate the same way.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::order::OrderLine;
use crate::fold::{PackageFacts, PackageStatus};
use crate::hlc::Hlc;
use crate::ids::{BatchNumber, ItemName, LocationName, PackageTag};
use crate::quantity::Quantity;

/// A package that might be allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub facts: PackageFacts,
    /// When it came in (first-in-first-out).
    pub since: Hlc,
}

crate::fold::package_facts_deref!(Candidate);

impl From<&crate::fold::Package> for Candidate {
    /// A package of a folded inventory (the server's, or a test's) as an allocation candidate.
    fn from(p: &crate::fold::Package) -> Self {
        Candidate { facts: p.facts.clone(), since: p.since }
    }
}

/// Why a package cannot be allocated, or `None` if it can.
pub fn ineligible(c: &Candidate, today: NaiveDate, claimed: &BTreeSet<PackageTag>, on_hold: &BTreeSet<PackageTag>) -> Option<&'static str> {
    if c.status == PackageStatus::Quarantined {
        Some("quarantined")
    } else if c.status != PackageStatus::Active {
        Some("not on the shelf")
    } else if on_hold.contains(&c.tag) {
        Some("on hold for an adjustment request")
    } else if c.expires_on.is_some_and(|d| d < today) {
        Some("expired")
    } else if claimed.contains(&c.tag) {
        Some("allocated to another order")
    } else if c.quantity.amount <= rust_decimal::Decimal::ZERO {
        Some("empty")
    } else {
        None
    }
}

/// Only the packages that may be allocated.
pub fn eligible(all: Vec<Candidate>, today: NaiveDate, claimed: &BTreeSet<PackageTag>, on_hold: &BTreeSet<PackageTag>) -> Vec<Candidate> {
    all.into_iter().filter(|c| ineligible(c, today, claimed, on_hold).is_none()).collect()
}

/// One pick: a whole package, or part of one split off into a new tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PickLine {
    /// The order line it fills.
    pub line: u32,
    /// The package to take from the shelf.
    pub tag: PackageTag,
    pub item: ItemName,
    pub batch: BatchNumber,
    pub location: LocationName,
    pub expires_on: Option<NaiveDate>,
    /// How much goes to the order: the whole package, or the part to split off.
    pub quantity: Quantity,
    /// For a part: the unused tag the split-off package gets.
    pub split_into: Option<PackageTag>,
}

impl PickLine {
    /// The tag that ends up in the container.
    pub fn shipped_tag(&self) -> &PackageTag {
        self.split_into.as_ref().unwrap_or(&self.tag)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickListError {
    #[error("line {line}: only {found} of {item} can be allocated, {wanted} is needed")]
    Short { line: u32, item: ItemName, wanted: Quantity, found: Quantity },
    #[error("line {line} needs part of {tag}, and the facility has no unused tags left for the split; add tags from the state system")]
    NoSpareTag { line: u32, tag: PackageTag },
}

/// The pick list for `lines` from `eligible` packages, taking new tags for splits from `spare`.
pub fn allocate(
    lines: &[OrderLine],
    eligible: &[Candidate],
    spare: &mut dyn Iterator<Item = PackageTag>,
) -> Result<Vec<PickLine>, PickListError> {
    let mut order: Vec<&Candidate> = eligible.iter().collect();
    // Expiring first (no date last), then oldest in, then by tag so the list is deterministic.
    order.sort_by(|a, b| {
        let ka = (a.expires_on.is_none(), a.expires_on, a.since, &a.tag);
        let kb = (b.expires_on.is_none(), b.expires_on, b.since, &b.tag);
        ka.cmp(&kb)
    });
    let mut used: BTreeSet<&PackageTag> = BTreeSet::new();
    let mut picks = Vec::new();
    for line in lines {
        let mut remaining = line.quantity;
        let mut found = Quantity::zero(line.quantity.unit);
        for c in order.iter().filter(|c| c.item == line.item) {
            if remaining.amount <= rust_decimal::Decimal::ZERO || remaining.is_zero() {
                break;
            }
            if used.contains(&c.tag) {
                continue;
            }
            let Ok(have) = c.quantity.convert(line.quantity.unit) else { continue };
            let whole = have.amount < remaining.amount || have.same_as(&remaining);
            let take = if whole { have } else { remaining };
            let split_into = if whole {
                None
            } else {
                Some(spare.next().ok_or_else(|| PickListError::NoSpareTag { line: line.line, tag: c.tag.clone() })?)
            };
            used.insert(&c.tag);
            // A split is recorded in the package's own unit.
            let quantity = if whole { c.quantity } else { take.convert(c.quantity.unit).unwrap_or(take) };
            picks.push(PickLine {
                line: line.line,
                tag: c.tag.clone(),
                item: c.item.clone(),
                batch: c.batch.clone(),
                location: c.location.clone(),
                expires_on: c.expires_on,
                quantity,
                split_into,
            });
            found = found.checked_add(&take).unwrap_or(found);
            remaining = remaining.checked_sub(&take).unwrap_or(remaining);
            if remaining.same_as(&Quantity::zero(remaining.unit)) {
                break;
            }
        }
        if remaining.amount > rust_decimal::Decimal::ZERO && !remaining.same_as(&Quantity::zero(remaining.unit)) {
            return Err(PickListError::Short { line: line.line, item: line.item.clone(), wanted: line.quantity, found });
        }
    }
    Ok(picks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantity::Unit;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn tag(n: u32) -> PackageTag {
        PackageTag::parse(&format!("1A4FF01000000220000{n:05}")).unwrap()
    }

    fn cand(n: u32, grams: i64, expires: Option<u32>, since: i64) -> Candidate {
        Candidate {
            facts: PackageFacts {
                tag: tag(n),
                item: ItemName::parse("Live Resin").unwrap(),
                batch: BatchNumber::parse("B1").unwrap(),
                quantity: Quantity::positive(Decimal::new(grams, 0), Unit::G).unwrap(),
                location: LocationName::parse("Vault A").unwrap(),
                expires_on: expires.map(|d| NaiveDate::from_ymd_opt(2027, 1, d).unwrap()),
                status: PackageStatus::Active,
            },
            since: Hlc { wall_ms: since, counter: 0 },
        }
    }

    fn line(grams: i64) -> OrderLine {
        OrderLine {
            line: 1,
            item: ItemName::parse("Live Resin").unwrap(),
            quantity: Quantity::positive(Decimal::new(grams, 0), Unit::G).unwrap(),
            unit_price: Decimal::new(10, 0),
        }
    }

    #[test]
    fn expiring_first_then_oldest_and_a_split_for_the_rest() {
        let cands = vec![cand(1, 10, None, 1), cand(2, 10, Some(20), 5), cand(3, 10, Some(10), 9), cand(4, 10, Some(20), 2)];
        let mut spare = vec![tag(90)].into_iter();
        let picks = allocate(&[line(25)], &cands, &mut spare).unwrap();
        let tags: Vec<_> = picks.iter().map(|p| p.tag.clone()).collect();
        assert_eq!(tags, vec![tag(3), tag(4), tag(2)], "expiry first, then first in");
        assert_eq!(picks[2].split_into, Some(tag(90)));
        assert_eq!(picks[2].quantity.amount, Decimal::new(5, 0));
        assert!(picks[0].split_into.is_none() && picks[1].split_into.is_none());
    }

    #[test]
    fn quarantined_expired_held_and_claimed_are_never_allocated() {
        let today = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap();
        let mut q = cand(1, 10, None, 1);
        q.status = PackageStatus::Quarantined;
        let expired = cand(2, 10, Some(14), 1);
        let held = cand(3, 10, None, 1);
        let claimed = cand(4, 10, None, 1);
        let ok = cand(5, 10, Some(15), 1);
        let on_hold = BTreeSet::from([tag(3)]);
        let claimed_set = BTreeSet::from([tag(4)]);
        let e = eligible(vec![q, expired, held, claimed, ok], today, &claimed_set, &on_hold);
        assert_eq!(e.iter().map(|c| c.tag.clone()).collect::<Vec<_>>(), vec![tag(5)]);
        let err = allocate(&[line(11)], &e, &mut std::iter::empty()).unwrap_err();
        assert!(matches!(err, PickListError::NoSpareTag { .. } | PickListError::Short { .. }));
        let err = allocate(&[line(11)], &e, &mut vec![tag(91)].into_iter()).unwrap_err();
        assert!(err.to_string().contains("only 10.00 g"), "{err}");
    }

    proptest! {
        /// Whatever the stock, an allocation never uses a package twice, never takes more than a
        /// package holds, gives each line exactly what it asked for, and refuses only when the
        /// item's stock is short.
        #[test]
        fn allocation_is_exact_and_exclusive(
            sizes in proptest::collection::vec((1i64..50, proptest::option::of(1u32..28), 0i64..100), 1..12),
            wants in proptest::collection::vec(1i64..60, 1..4),
        ) {
            let item = |i: usize| ItemName::parse(&format!("Item {}", i % 3)).unwrap();
            let cands: Vec<Candidate> = sizes.iter().enumerate().map(|(i, (g, e, s))| {
                let mut c = cand(i as u32, *g, *e, *s);
                c.item = item(i);
                c
            }).collect();
            let lines: Vec<OrderLine> = wants.iter().enumerate().map(|(i, g)| OrderLine { line: i as u32 + 1, item: item(i), ..line(*g) }).collect();
            let mut spare = (100..200).map(tag);
            match allocate(&lines, &cands, &mut spare) {
                Ok(picks) => {
                    let mut seen = BTreeSet::new();
                    for p in &picks {
                        prop_assert!(seen.insert(p.tag.clone()), "package used twice");
                        let c = cands.iter().find(|c| c.tag == p.tag).unwrap();
                        prop_assert_eq!(&c.item, &p.item);
                        prop_assert!(p.quantity.amount <= c.quantity.amount);
                        prop_assert_eq!(p.split_into.is_some(), p.quantity.amount < c.quantity.amount);
                    }
                    for l in &lines {
                        let sum: Decimal = picks.iter().filter(|p| p.line == l.line).map(|p| p.quantity.amount).sum();
                        prop_assert_eq!(sum, l.quantity.amount);
                    }
                }
                Err(PickListError::Short { line, .. }) => {
                    let l = &lines[line as usize - 1];
                    let total: Decimal = cands.iter().filter(|c| c.item == l.item).map(|c| c.quantity.amount).sum();
                    prop_assert!(l.quantity.amount > total, "refused although {total} g was there for {}", l.quantity);
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}
