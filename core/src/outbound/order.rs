//! Orders from dispensaries: who they are for, what they want, and whether the facility can
//! fill them. Checked the same way on a manager's phone and on the server.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{ItemName, LicenseNumber, PackageTag};
use crate::quantity::{Quantity, QuantityError};
use crate::text;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("{0} is not a customer of this facility; add the dispensary as a customer first")]
    UnknownCustomer(LicenseNumber),
    #[error("an order needs a number")]
    NoNumber,
    #[error("order {0} already exists")]
    DuplicateNumber(String),
    #[error("an order needs at least one line")]
    NoLines,
    #[error("line {line}: {source}")]
    BadQuantity { line: u32, source: QuantityError },
    #[error("line {line}: a wholesale price cannot be negative")]
    NegativePrice { line: u32 },
    #[error("line {line}: {item} is counted in {package_unit}, but the order asks for {ordered_unit}")]
    WrongUnit { line: u32, item: ItemName, package_unit: String, ordered_unit: String },
    #[error("{item}: {wanted} ordered but only {available} is available (not quarantined, on hold, expired or allocated to another order)")]
    NotAvailable { item: ItemName, wanted: Quantity, available: Quantity },
    #[error("{0} is on two lines; put the whole quantity on one line")]
    RepeatedItem(ItemName),
    #[error("the patient's {0} is missing")]
    PatientField(&'static str),
    #[error("the requested delivery date {0} is in the past")]
    PastDate(NaiveDate),
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
    #[error("line {line}: {source}")]
    BadItem { line: u32, source: crate::ids::IdError },
    #[error("line {line}: {source}")]
    Price { line: u32, source: crate::bounds::BoundError },
}

/// A dispensary the facility sells to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Customer {
    pub licence: LicenseNumber,
    pub name: String,
    pub address: String,
}

impl Customer {
    /// A customer as the office enters it: a name and an address, each within the text rules
    /// (the licence number's own type already allows only letters, digits and dashes).
    pub fn validate(&self) -> Result<(), OrderError> {
        text::required(text::organisation("customer's name"), &self.name)?;
        text::required(text::address("customer's address"), &self.address)?;
        Ok(())
    }
}

/// A line as the person entering the order types it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrderLine {
    pub item: ItemName,
    pub quantity: Quantity,
    /// Wholesale price per unit of `quantity` (per gram, per each).
    pub unit_price: Decimal,
}

/// A medical patient the order is delivered for. Never written into a work document: stored
/// sealed (see [`super::patient`]) and shown only to managers and the assigned driver.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "PatientDetails"))]
pub struct Patient {
    pub name: String,
    pub card_number: String,
    pub address: String,
    pub phone: String,
}

/// Debug output (logs, panic messages, test failures) shows only the redacted form.
impl std::fmt::Debug for Patient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Patient({})", self.redacted())
    }
}

impl Patient {
    pub fn validate(&self) -> Result<(), OrderError> {
        for (value, what) in [(&self.name, "name"), (&self.card_number, "medical card number"), (&self.address, "address")] {
            if value.trim().is_empty() {
                return Err(OrderError::PatientField(what));
            }
        }
        text::check(text::name("patient's name"), &self.name)?;
        text::check(text::reference("patient's medical card number"), &self.card_number)?;
        text::check(text::address("patient's address"), &self.address)?;
        text::check(text::reference("patient's phone number"), &self.phone)?;
        Ok(())
    }

    /// What pick lists, packing screens, exports and printed documents show: initials and the
    /// last four characters of the card number ("J.D., card ...1234").
    pub fn redacted(&self) -> String {
        let initials: String =
            self.name.split_whitespace().filter_map(|w| w.chars().next()).map(|c| format!("{}.", c.to_uppercase())).collect();
        let card: Vec<char> = self.card_number.chars().filter(|c| c.is_alphanumeric()).collect();
        let last4: String = card[card.len().saturating_sub(4)..].iter().collect();
        format!("{initials}, card ...{last4}")
    }
}

/// An order as typed: for a dispensary licence, lines, a delivery date, perhaps a patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub number: String,
    pub recipient: LicenseNumber,
    pub requested_on: NaiveDate,
    pub lines: Vec<NewOrderLine>,
    pub patient: Option<Patient>,
}

/// One line of an accepted order (`unit_price` per unit of `quantity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OrderLine {
    pub line: u32,
    pub item: ItemName,
    pub quantity: Quantity,
    pub unit_price: Decimal,
}

impl OrderLine {
    /// The wholesale price of `quantity` of this line's item, to the cent. Refused beyond the
    /// price bounds (docs/decisions/0013) instead of overflowing.
    pub fn price_of(&self, quantity: &Quantity) -> Result<Decimal, crate::bounds::BoundError> {
        let amount = quantity.convert(self.quantity.unit).map(|q| q.amount).unwrap_or(quantity.amount);
        crate::bounds::line_price(amount, self.unit_price)
    }
}

/// An accepted order, as its work document holds it. Patient data appears only redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub number: String,
    pub recipient: Customer,
    pub requested_on: NaiveDate,
    pub lines: Vec<OrderLine>,
    /// Initials and the card's last four digits, if this is a medical delivery.
    pub patient_ref: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// What the facility could give an order: eligible, unallocated stock per item, minus what
/// other open orders still wait to have allocated.
#[derive(Debug, Clone, Default)]
pub struct Availability {
    pub per_item: BTreeMap<ItemName, Quantity>,
}

impl Availability {
    /// Adds up eligible packages (see [`super::picklist::eligible`]). Checked: a package whose
    /// quantity cannot be added (beyond the bounds, or in the other kind of unit) is left out
    /// rather than making the order screen fail.
    pub fn from_candidates<'a>(candidates: impl IntoIterator<Item = &'a super::picklist::Candidate>) -> Self {
        let mut per_item: BTreeMap<ItemName, Quantity> = BTreeMap::new();
        for c in candidates {
            let entry = per_item.entry(c.item.clone()).or_insert_with(|| Quantity::zero(c.quantity.unit));
            if let Ok(sum) = entry.checked_add(&c.quantity) {
                *entry = sum;
            }
        }
        Availability { per_item }
    }

    /// Takes what an open order without a pick list will need.
    pub fn reserve(&mut self, lines: &[OrderLine]) {
        for line in lines {
            if let Some(have) = self.per_item.get_mut(&line.item)
                && let Ok(left) = have.checked_sub(&line.quantity)
            {
                *have = left;
            }
        }
    }
}

impl NewOrder {
    /// Checks the order against the customer list and what is available; on success, the order
    /// as its document will hold it (patient data redacted).
    pub fn accept(
        &self,
        customers: &[Customer],
        existing_numbers: &[String],
        available: &Availability,
        today: NaiveDate,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Order, OrderError> {
        let number = self.number.trim();
        if number.is_empty() {
            return Err(OrderError::NoNumber);
        }
        text::check(text::reference("order number"), number)?;
        if existing_numbers.iter().any(|n| n == number) {
            return Err(OrderError::DuplicateNumber(number.to_string()));
        }
        let recipient =
            customers.iter().find(|c| c.licence == self.recipient).ok_or_else(|| OrderError::UnknownCustomer(self.recipient.clone()))?;
        if self.requested_on < today {
            return Err(OrderError::PastDate(self.requested_on));
        }
        if self.lines.is_empty() {
            return Err(OrderError::NoLines);
        }
        if let Some(p) = &self.patient {
            p.validate()?;
        }
        let mut wanted: BTreeMap<&ItemName, Quantity> = BTreeMap::new();
        let mut lines = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            let line = i as u32 + 1;
            l.item.check().map_err(|source| OrderError::BadItem { line, source })?;
            let quantity =
                Quantity::positive(l.quantity.amount, l.quantity.unit).map_err(|source| OrderError::BadQuantity { line, source })?;
            if l.unit_price.is_sign_negative() {
                return Err(OrderError::NegativePrice { line });
            }
            crate::bounds::check_unit_price(l.unit_price).map_err(|source| OrderError::Price { line, source })?;
            crate::bounds::line_price(quantity.amount, l.unit_price).map_err(|source| OrderError::Price { line, source })?;
            if let Some(have) = available.per_item.get(&l.item)
                && quantity.convert(have.unit).is_err()
            {
                return Err(OrderError::WrongUnit {
                    line,
                    item: l.item.clone(),
                    package_unit: have.unit.to_string(),
                    ordered_unit: quantity.unit.to_string(),
                });
            }
            if wanted.insert(&l.item, quantity).is_some() {
                return Err(OrderError::RepeatedItem(l.item.clone()));
            }
            lines.push(OrderLine { line, item: l.item.clone(), quantity, unit_price: l.unit_price });
        }
        for (item, want) in wanted {
            let have = available.per_item.get(item).copied().unwrap_or_else(|| Quantity::zero(want.unit));
            let have_in_order_unit = have.convert(want.unit).unwrap_or(have);
            let short = want.checked_sub(&have_in_order_unit).map(|d| d.amount > Decimal::ZERO && !want.same_as(&have_in_order_unit));
            if short.unwrap_or(true) {
                return Err(OrderError::NotAvailable { item: item.clone(), wanted: want, available: have_in_order_unit });
            }
        }
        Ok(Order {
            number: number.to_string(),
            recipient: recipient.clone(),
            requested_on: self.requested_on,
            lines,
            patient_ref: self.patient.as_ref().map(Patient::redacted),
            created_by: by.to_string(),
            created_at: at,
        })
    }
}

/// Tags an order holds: no other open order may allocate them.
pub fn claimed_tags(
    pick_list: &[super::picklist::PickLine],
    split_done: impl Fn(&PackageTag) -> bool,
    released: &[PackageTag],
) -> Vec<PackageTag> {
    let mut out = Vec::new();
    for p in pick_list {
        match &p.split_into {
            None => out.push(p.tag.clone()),
            Some(new_tag) => {
                out.push(new_tag.clone());
                if !split_done(new_tag) {
                    out.push(p.tag.clone());
                }
            }
        }
    }
    out.retain(|t| !released.contains(t));
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantity::Unit;

    #[test]
    fn redaction_keeps_initials_and_last_four() {
        let p = Patient {
            name: "jane Q doe".into(),
            card_number: "MMJ-0042-9876-1234".into(),
            address: "1 Elm St".into(),
            phone: "555-0100".into(),
        };
        let r = p.redacted();
        assert_eq!(r, "J.Q.D., card ...1234");
        assert!(!r.contains("9876") && !r.contains("Elm") && !r.contains("jane"));
        assert_eq!(format!("{p:?}"), "Patient(J.Q.D., card ...1234)", "logs never carry patient data");
    }

    fn lic(s: &str) -> LicenseNumber {
        LicenseNumber::parse(s).unwrap()
    }

    #[test]
    fn unknown_customer_and_shortage_are_refused() {
        let customers = vec![Customer { licence: lic("C10-0000002-LIC"), name: "Green Door".into(), address: "2 Main".into() }];
        let flower = ItemName::parse("Flower").unwrap();
        let mut available = Availability::default();
        available.per_item.insert(flower.clone(), Quantity::positive(Decimal::new(100, 0), Unit::G).unwrap());
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let mut order = NewOrder {
            number: "SO-1".into(),
            recipient: lic("C10-0000009-LIC"),
            requested_on: today,
            lines: vec![NewOrderLine {
                item: flower.clone(),
                quantity: Quantity::positive(Decimal::new(50, 0), Unit::G).unwrap(),
                unit_price: Decimal::new(4, 0),
            }],
            patient: None,
        };
        assert_eq!(
            order.accept(&customers, &[], &available, today, "M", Utc::now()),
            Err(OrderError::UnknownCustomer(lic("C10-0000009-LIC")))
        );
        order.recipient = lic("C10-0000002-LIC");
        assert!(order.accept(&customers, &[], &available, today, "M", Utc::now()).is_ok());
        order.lines[0].quantity = Quantity::positive(Decimal::new(10001, 2), Unit::G).unwrap();
        let err = order.accept(&customers, &[], &available, today, "M", Utc::now()).unwrap_err();
        assert!(err.to_string().contains("only 100.00 g is available"), "{err}");
        order.lines[0].quantity = Quantity::positive(Decimal::new(3, 0), Unit::Each).unwrap();
        assert!(matches!(order.accept(&customers, &[], &available, today, "M", Utc::now()), Err(OrderError::WrongUnit { .. })));
        assert!(matches!(
            order.accept(&customers, &["SO-1".into()], &available, today, "M", Utc::now()),
            Err(OrderError::DuplicateNumber(_))
        ));
    }
}
