//! Planning a new order: the one check a manager's phone and the office (through the server)
//! run before an order document exists. Pure: each caller reads the packages, claims, orders
//! and customers it knows, and writes the document itself, so the two can never disagree about
//! what may be ordered.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use super::order::{Availability, Customer, NewOrder, Order, OrderError, OrderLine};
use super::picklist::{self, Candidate};
use crate::ids::PackageTag;

/// An order already entered, as far as planning a new one cares.
#[derive(Debug, Clone, Copy)]
pub struct ExistingOrder<'a> {
    pub number: &'a str,
    pub lines: &'a [OrderLine],
    /// Still waiting for its pick list: what it asks for is not available to a new order.
    pub open: bool,
}

/// What the caller knows when an order is entered.
#[derive(Debug, Clone)]
pub struct OrderFacts<'a> {
    /// The facility's packages; only those [`picklist::eligible`] count as available.
    pub packages: Vec<Candidate>,
    /// Packages held by open orders' pick lists.
    pub claimed: &'a BTreeSet<PackageTag>,
    /// Packages held for an adjustment request still waiting for a decision.
    pub on_hold: &'a BTreeSet<PackageTag>,
    /// Every order already entered (numbers are unique; open ones reserve their lines).
    pub orders: Vec<ExistingOrder<'a>>,
    pub customers: &'a [Customer],
    pub today: NaiveDate,
}

/// The order as its document will hold it (patient data redacted), or why it is refused.
pub fn plan_order(new: &NewOrder, facts: OrderFacts<'_>, by: &str, at: DateTime<Utc>) -> Result<Order, OrderError> {
    let eligible = picklist::eligible(facts.packages, facts.today, facts.claimed, facts.on_hold);
    let mut available = Availability::from_candidates(&eligible);
    let mut numbers = Vec::with_capacity(facts.orders.len());
    for o in &facts.orders {
        numbers.push(o.number.to_string());
        if o.open {
            available.reserve(o.lines);
        }
    }
    new.accept(facts.customers, &numbers, &available, facts.today, by, at)
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::fold::{PackageFacts, PackageStatus};
    use crate::ids::{BatchNumber, ItemName, LicenseNumber, LocationName};
    use crate::outbound::NewOrderLine;
    use crate::quantity::{Quantity, Unit};

    fn grams(n: i64) -> Quantity {
        Quantity::positive(Decimal::new(n, 0), Unit::G).unwrap()
    }

    fn package(tag: &str, g: i64, status: PackageStatus) -> Candidate {
        Candidate {
            facts: PackageFacts {
                tag: PackageTag::parse(tag).unwrap(),
                item: ItemName::parse("Flower").unwrap(),
                batch: BatchNumber::parse("B-1").unwrap(),
                quantity: grams(g),
                location: LocationName::parse("Vault A").unwrap(),
                expires_on: None,
                status,
            },
            since: Default::default(),
        }
    }

    #[test]
    fn only_eligible_unclaimed_unreserved_stock_is_available() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let customer = LicenseNumber::parse("C10-0000002-LIC").unwrap();
        let customers = vec![Customer { licence: customer.clone(), name: "Green Door".into(), address: "2 Main".into() }];
        let claimed_tag = "1A4FF0100000022000000002";
        let held_tag = "1A4FF0100000022000000003";
        let claimed = BTreeSet::from([PackageTag::parse(claimed_tag).unwrap()]);
        let on_hold = BTreeSet::from([PackageTag::parse(held_tag).unwrap()]);
        let packages = vec![
            package("1A4FF0100000022000000001", 100, PackageStatus::Active),
            package(claimed_tag, 100, PackageStatus::Active),
            package(held_tag, 100, PackageStatus::Active),
            package("1A4FF0100000022000000004", 100, PackageStatus::Quarantined),
        ];
        let open_lines =
            vec![OrderLine { line: 1, item: ItemName::parse("Flower").unwrap(), quantity: grams(30), unit_price: Decimal::ONE }];
        // `existing`: whether SO-0 (30 g of Flower) is already entered, and open.
        let facts = |existing: Option<bool>| OrderFacts {
            packages: packages.clone(),
            claimed: &claimed,
            on_hold: &on_hold,
            orders: existing.map(|open| ExistingOrder { number: "SO-0", lines: &open_lines, open }).into_iter().collect(),
            customers: &customers,
            today,
        };
        let order = |number: &str, g: i64| NewOrder {
            number: number.into(),
            recipient: customer.clone(),
            requested_on: today,
            lines: vec![NewOrderLine { item: ItemName::parse("Flower").unwrap(), quantity: grams(g), unit_price: Decimal::ONE }],
            patient: None,
        };
        // Only the one active, unclaimed package that is not on hold counts: 100 g.
        assert!(plan_order(&order("SO-1", 100), facts(None), "M", Utc::now()).is_ok());
        let err = plan_order(&order("SO-1", 101), facts(None), "M", Utc::now()).unwrap_err();
        assert!(matches!(err, OrderError::NotAvailable { .. }), "{err}");
        // An open order without a pick list reserves its 30 g; a closed one does not.
        assert!(matches!(plan_order(&order("SO-1", 71), facts(Some(true)), "M", Utc::now()), Err(OrderError::NotAvailable { .. })));
        assert!(plan_order(&order("SO-1", 70), facts(Some(true)), "M", Utc::now()).is_ok());
        assert!(plan_order(&order("SO-1", 100), facts(Some(false)), "M", Utc::now()).is_ok());
        // Every existing number is taken, open or not.
        assert!(matches!(plan_order(&order("SO-0", 1), facts(Some(false)), "M", Utc::now()), Err(OrderError::DuplicateNumber(_))));
    }
}
