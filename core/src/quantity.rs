//! Quantities: an exact decimal amount with a unit of measure. Never floats.
//!
//! Weights convert exactly between units (1 oz = 28.349523125 g and 1 lb = 453.59237 g by
//! definition) and are compared and shown to the hundredth of a gram, the precision the state
//! and the receiving scale work to. Counted goods ("each") never mix with weights.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bounds;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("{0:?} is not a number; enter an amount like 12.5")]
    NotANumber(String),
    #[error("{0:?} is not a unit; use each, mg, g, kg, oz or lb")]
    UnknownUnit(String),
    #[error("a quantity of {0} cannot be negative")]
    Negative(String),
    #[error("a quantity of {0} must be more than zero")]
    Zero(String),
    #[error("{0} are counted, not weighed: they cannot be combined with {1}")]
    IncompatibleUnits(&'static str, &'static str),
    #[error("a count of items must be a whole number, not {0}")]
    FractionalCount(String),
    #[error("the amount {0} is too large to work with; check it")]
    Overflow(String),
    #[error("{amount} is more than the largest quantity the system takes ({max}); check the amount")]
    TooLarge { amount: String, max: &'static str },
    #[error("{amount} has more than {max} decimal places; round it")]
    TooPrecise { amount: String, max: u32 },
}

/// Units of measure the state system uses for packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum), uniffi(name = "UnitOfMeasure"))]
pub enum Unit {
    Each,
    Mg,
    G,
    Kg,
    Oz,
    Lb,
}

impl Unit {
    pub const ALL: [Unit; 6] = [Unit::Each, Unit::Mg, Unit::G, Unit::Kg, Unit::Oz, Unit::Lb];

    /// Grams in one of this unit, exactly; `None` for counted goods.
    pub fn grams(self) -> Option<Decimal> {
        match self {
            Unit::Each => None,
            Unit::Mg => Some(Decimal::new(1, 3)),
            Unit::G => Some(Decimal::ONE),
            Unit::Kg => Some(Decimal::new(1000, 0)),
            Unit::Oz => Some(Decimal::new(28_349_523_125, 9)),
            Unit::Lb => Some(Decimal::new(45_359_237, 5)),
        }
    }

    pub fn is_weight(self) -> bool {
        self != Unit::Each
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Each => "each",
            Unit::Mg => "mg",
            Unit::G => "g",
            Unit::Kg => "kg",
            Unit::Oz => "oz",
            Unit::Lb => "lb",
        }
    }

    /// The unit name the state system (Metrc) uses.
    /// The unit in words, for prompts ("enter the grams").
    pub fn word(self) -> &'static str {
        match self {
            Unit::Each => "number of units",
            Unit::Mg => "milligrams",
            Unit::G => "grams",
            Unit::Kg => "kilograms",
            Unit::Oz => "ounces",
            Unit::Lb => "pounds",
        }
    }

    pub fn metrc_name(self) -> &'static str {
        match self {
            Unit::Each => "Each",
            Unit::Mg => "Milligrams",
            Unit::G => "Grams",
            Unit::Kg => "Kilograms",
            Unit::Oz => "Ounces",
            Unit::Lb => "Pounds",
        }
    }

    fn kind_name(self) -> &'static str {
        if self.is_weight() { "weights" } else { "items" }
    }
}

impl FromStr for Unit {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unit = match s.trim().to_ascii_lowercase().as_str() {
            "each" | "ea" | "unit" | "units" | "count" => Unit::Each,
            "mg" | "milligram" | "milligrams" => Unit::Mg,
            "g" | "gram" | "grams" => Unit::G,
            "kg" | "kilogram" | "kilograms" => Unit::Kg,
            "oz" | "ounce" | "ounces" => Unit::Oz,
            "lb" | "lbs" | "pound" | "pounds" => Unit::Lb,
            _ => return Err(QuantityError::UnknownUnit(s.to_string())),
        };
        Ok(unit)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// An amount with its unit. The amount may be negative only where a change is meant (an
/// adjustment); [`Quantity::new`] is for stock and refuses negatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Quantity {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub unit: Unit,
}

impl Quantity {
    /// A stock quantity: zero or more; whole numbers for counted goods.
    pub fn new(amount: Decimal, unit: Unit) -> Result<Self, QuantityError> {
        let q = Self::change(amount, unit)?;
        if q.amount.is_sign_negative() && !q.amount.is_zero() {
            return Err(QuantityError::Negative(q.to_string()));
        }
        Ok(q)
    }

    /// A strictly positive quantity (what is received, split off, counted as present).
    pub fn positive(amount: Decimal, unit: Unit) -> Result<Self, QuantityError> {
        let q = Self::new(amount, unit)?;
        if q.amount.is_zero() {
            return Err(QuantityError::Zero(q.to_string()));
        }
        Ok(q)
    }

    /// A signed change (an adjustment): any sign; whole numbers for counted goods; within the
    /// domain bounds (at most 10,000 kg or 1,000,000 each either way, nine decimal places; see
    /// [`crate::bounds`]). Every other constructor goes through here.
    pub fn change(amount: Decimal, unit: Unit) -> Result<Self, QuantityError> {
        let q = Self { amount, unit };
        q.check_ledger()?;
        if bounds::decimals(amount) > bounds::MAX_QUANTITY_DECIMALS {
            return Err(QuantityError::TooPrecise { amount: q.plain(), max: bounds::MAX_QUANTITY_DECIMALS });
        }
        Ok(q)
    }

    /// The rules every quantity in the ledger meets, old or new: whole numbers for counted goods
    /// and the magnitude bound, beyond which sums could overflow and a read fail. Not the decimal
    /// places, a rule for what people and scales enter: builds before the bounds recorded unit
    /// conversions with up to 28 places, and those events are real facts (docs/decisions/0013).
    pub fn check_ledger(&self) -> Result<(), QuantityError> {
        let (amount, unit) = (self.amount, self.unit);
        if unit == Unit::Each && !amount.fract().is_zero() {
            return Err(QuantityError::FractionalCount(amount.normalize().to_string()));
        }
        let too_large = |max| QuantityError::TooLarge { amount: self.plain(), max };
        // Compared as weights are, to 0.01 g: a conversion rounded to nine places stays inside.
        match self.grams_rounded() {
            Ok(Some(g)) if g.abs() > bounds::MAX_GRAMS => Err(too_large(bounds::MAX_WEIGHT_TEXT)),
            Ok(None) if amount.abs() > bounds::MAX_EACH => Err(too_large(bounds::MAX_EACH_TEXT)),
            Err(_) => Err(too_large(if unit.is_weight() { bounds::MAX_WEIGHT_TEXT } else { bounds::MAX_EACH_TEXT })),
            _ => Ok(()),
        }
    }

    /// [`Quantity::check_ledger`] for stock received or split off: also more than zero.
    pub fn check_ledger_positive(&self) -> Result<(), QuantityError> {
        self.check_ledger()?;
        if self.is_negative() {
            return Err(QuantityError::Negative(self.to_string()));
        }
        if self.is_zero() {
            return Err(QuantityError::Zero(self.to_string()));
        }
        Ok(())
    }

    /// Checks a quantity that was built field by field or read from the wire against the same
    /// rules as [`Quantity::change`].
    pub fn checked(&self) -> Result<Self, QuantityError> {
        Self::change(self.amount, self.unit)
    }

    /// The amount and unit as given, with no conversion: safe to show for any value.
    pub fn plain(&self) -> String {
        format!("{} {}", self.amount.normalize(), self.unit)
    }

    pub fn zero(unit: Unit) -> Self {
        Self { amount: Decimal::ZERO, unit }
    }

    /// Parses what a person types: `12.5 g`, `12.5g`, `3 each`, `-1.25 oz`.
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let text = text.trim();
        let split = text.find(|c: char| c.is_ascii_alphabetic()).ok_or_else(|| QuantityError::UnknownUnit(String::new()))?;
        let (num, unit) = text.split_at(split);
        let amount = Decimal::from_str(num.trim()).map_err(|_| QuantityError::NotANumber(num.trim().to_string()))?;
        Self::change(amount, unit.parse()?)
    }

    /// An amount written as text (`"12.50"`, `" -0.5 "`) in `unit`: trimmed, any sign (the
    /// workflow decides whether a negative makes sense), whole numbers for `Each`.
    pub fn from_text(amount: &str, unit: Unit) -> Result<Self, QuantityError> {
        let text = amount.trim();
        let amount = Decimal::from_str(text).map_err(|_| QuantityError::NotANumber(text.to_string()))?;
        Self::change(amount, unit)
    }

    /// Parses what a person types into an amount field whose unit is `unit`: a plain number is
    /// read in `unit` (`3.5` is 3.5 g for grams), a number with a unit as typed (`0.5 oz`). With
    /// no `unit` the text must name one.
    pub fn parse_in(text: &str, unit: Option<Unit>) -> Result<Self, QuantityError> {
        let text = text.trim();
        match unit {
            Some(unit) if !text.is_empty() && !text.chars().any(char::is_alphabetic) => Self::parse(&format!("{text} {}", unit.symbol())),
            _ => Self::parse(text),
        }
    }

    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// The same amount in grams, exactly; `Ok(None)` for counted goods. Checked: an amount that
    /// never passed the bounds (an event stored before them) is an error, not a panic.
    pub fn grams(&self) -> Result<Option<Decimal>, QuantityError> {
        match self.unit.grams() {
            None => Ok(None),
            Some(g) => self.amount.checked_mul(g).map(Some).ok_or_else(|| QuantityError::Overflow(self.plain())),
        }
    }

    /// The weight to the hundredth of a gram, the precision at which weights are compared and
    /// shown. `Ok(None)` for counted goods.
    pub fn grams_rounded(&self) -> Result<Option<Decimal>, QuantityError> {
        Ok(self.grams()?.map(|g| g.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)))
    }

    /// Converts to another unit: exact between weights up to nine decimal places (the bound of
    /// every quantity, far below the 0.01 g at which weights compare); an error between counted
    /// and weighed goods, or for an amount beyond the bounds.
    pub fn convert(&self, unit: Unit) -> Result<Self, QuantityError> {
        if unit == self.unit {
            return Ok(*self);
        }
        match (self.grams()?, unit.grams()) {
            (Some(g), Some(per)) => {
                let amount = g.checked_div(per).ok_or_else(|| QuantityError::Overflow(self.plain()))?;
                let amount = amount.round_dp_with_strategy(bounds::MAX_QUANTITY_DECIMALS, RoundingStrategy::MidpointAwayFromZero);
                Ok(Self { amount: amount.normalize(), unit })
            }
            _ => Err(QuantityError::IncompatibleUnits(self.unit.kind_name(), unit.kind_name())),
        }
    }

    /// Adds `other` expressed in this quantity's unit.
    pub fn checked_add(&self, other: &Quantity) -> Result<Self, QuantityError> {
        let other = other.convert(self.unit)?;
        let amount = self.amount.checked_add(other.amount).ok_or_else(|| QuantityError::Overflow(self.plain()))?;
        Ok(Self { amount, unit: self.unit })
    }

    pub fn checked_sub(&self, other: &Quantity) -> Result<Self, QuantityError> {
        self.checked_add(&other.negated())
    }

    pub fn negated(&self) -> Self {
        Self { amount: -self.amount, unit: self.unit }
    }

    /// Equal as a floor worker or an auditor would judge it: weights to 0.01 g, counts exactly.
    pub fn same_as(&self, other: &Quantity) -> bool {
        match (self.grams_rounded(), other.grams_rounded()) {
            (Ok(Some(a)), Ok(Some(b))) => a == b,
            (Ok(None), Ok(None)) => self.amount == other.amount,
            // Beyond any real weight: the same only if written the same.
            (Err(_), Err(_)) => self == other,
            _ => false,
        }
    }
}

impl fmt::Display for Quantity {
    /// Weights in grams are shown to two decimals (`12.30 g`); other units show their own amount
    /// and, for weights, the gram figure that is compared (`1 oz (28.35 g)`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An amount too large to convert (never one within the bounds) is shown as written.
        match (self.unit, self.grams_rounded()) {
            (Unit::G, Ok(Some(g))) => write!(f, "{g:.2} g"),
            (Unit::Each, _) | (_, Err(_)) | (_, Ok(None)) => f.write_str(&self.plain()),
            (unit, Ok(Some(g))) => write!(f, "{} {} ({g:.2} g)", self.amount.normalize(), unit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros_free::dec;

    /// `dec!` without the macro crate: parse a literal at test time.
    mod rust_decimal_macros_free {
        macro_rules! dec {
            ($s:expr) => {
                rust_decimal::Decimal::from_str(stringify!($s)).unwrap()
            };
        }
        pub(crate) use dec;
    }

    #[test]
    fn exact_weight_conversions() {
        let oz = Quantity::new(dec!(1), Unit::Oz).unwrap();
        assert_eq!(oz.grams().unwrap().unwrap(), dec!(28.349523125));
        let lb = Quantity::new(dec!(1), Unit::Lb).unwrap();
        assert_eq!(lb.convert(Unit::Oz).unwrap().amount, dec!(16));
        let kg = Quantity::new(dec!(1.5), Unit::Kg).unwrap();
        assert_eq!(kg.convert(Unit::Mg).unwrap().amount, dec!(1500000));
        assert_eq!(kg.convert(Unit::G).unwrap().convert(Unit::Kg).unwrap().amount, dec!(1.5));
    }

    #[test]
    fn weights_compare_to_a_hundredth_of_a_gram() {
        let a = Quantity::new(dec!(10.004), Unit::G).unwrap();
        let b = Quantity::new(dec!(10001), Unit::Mg).unwrap();
        assert!(a.same_as(&b));
        let c = Quantity::new(dec!(10.02), Unit::G).unwrap();
        assert!(!a.same_as(&c));
        assert_eq!(c.to_string(), "10.02 g");
        assert_eq!(Quantity::new(dec!(1), Unit::Oz).unwrap().to_string(), "1 oz (28.35 g)");
    }

    #[test]
    fn counts_and_weights_do_not_mix() {
        let each = Quantity::new(dec!(3), Unit::Each).unwrap();
        let g = Quantity::new(dec!(3), Unit::G).unwrap();
        assert!(matches!(each.checked_add(&g), Err(QuantityError::IncompatibleUnits(..))));
        assert!(!each.same_as(&g));
        assert!(matches!(Quantity::new(dec!(1.5), Unit::Each), Err(QuantityError::FractionalCount(_))));
    }

    #[test]
    fn negatives_refused_for_stock_allowed_for_changes() {
        let err = Quantity::new(dec!(-0.5), Unit::G).unwrap_err();
        assert_eq!(err.to_string(), "a quantity of -0.50 g cannot be negative");
        assert!(Quantity::change(dec!(-0.5), Unit::G).unwrap().is_negative());
        assert!(matches!(Quantity::positive(dec!(0), Unit::G), Err(QuantityError::Zero(_))));
    }

    #[test]
    fn parses_typed_quantities() {
        assert_eq!(Quantity::parse("12.5g").unwrap(), Quantity { amount: dec!(12.5), unit: Unit::G });
        assert_eq!(Quantity::parse(" 3 each ").unwrap().unit, Unit::Each);
        assert!(matches!(Quantity::parse("abc g"), Err(QuantityError::NotANumber(_))));
        assert!(matches!(Quantity::parse("12 stones"), Err(QuantityError::UnknownUnit(_))));
        let json = serde_json::to_string(&Quantity::parse("1.50 g").unwrap()).unwrap();
        assert_eq!(json, r#"{"amount":"1.50","unit":"g"}"#);
    }

    #[test]
    fn quantities_stay_within_the_domain_bounds() {
        let err = Quantity::change(Decimal::from_scientific("-7.9e28").unwrap(), Unit::Lb).unwrap_err();
        assert_eq!(
            err.to_string(),
            "-79000000000000000000000000000 lb is more than the largest quantity the system takes (10,000 kg); check the amount"
        );
        assert!(Quantity::new(dec!(10000), Unit::Kg).is_ok(), "ten tonnes is the limit");
        assert!(matches!(Quantity::new(dec!(10000.01), Unit::Kg), Err(QuantityError::TooLarge { .. })));
        assert!(matches!(Quantity::change(dec!(-22047), Unit::Lb), Err(QuantityError::TooLarge { .. })));
        assert!(Quantity::new(dec!(1000000), Unit::Each).is_ok());
        assert!(matches!(Quantity::new(dec!(1000001), Unit::Each), Err(QuantityError::TooLarge { .. })));
        assert!(Quantity::new(dec!(0.123456789), Unit::G).is_ok());
        let err = Quantity::new(dec!(0.1234567891), Unit::G).unwrap_err();
        assert_eq!(err.to_string(), "0.1234567891 g has more than 9 decimal places; round it");
        assert!(Quantity::new(dec!(1.500000000000), Unit::G).is_ok(), "trailing zeros are not places");
        // A value built field by field is checked the same way.
        let wire = Quantity { amount: Decimal::MAX, unit: Unit::Mg };
        assert!(wire.checked().is_err());
        assert!(wire.check_ledger().is_err());
        // The ledger keeps what older builds recorded: conversions with many decimal places.
        let converted = Quantity { amount: dec!(0.2205736279034712), unit: Unit::Lb };
        assert!(converted.checked().is_err(), "not as new input");
        assert!(converted.check_ledger_positive().is_ok(), "but as a ledger fact");
        assert!(Quantity { amount: dec!(1.5), unit: Unit::Each }.check_ledger().is_err());
    }

    #[test]
    fn arithmetic_on_values_beyond_the_bounds_is_an_error_not_a_panic() {
        let huge = Quantity { amount: Decimal::MAX, unit: Unit::Lb };
        assert!(matches!(huge.grams(), Err(QuantityError::Overflow(_))));
        assert!(huge.convert(Unit::G).is_err());
        assert!(Quantity::zero(Unit::G).checked_add(&huge).is_err());
        assert_eq!(huge.to_string(), "79228162514264337593543950335 lb", "shown as written");
        assert!(huge.same_as(&huge) && !huge.same_as(&Quantity::zero(Unit::Lb)));
        // Conversions round to the nine places every quantity may have.
        let g = Quantity::new(dec!(100), Unit::G).unwrap();
        assert_eq!(g.convert(Unit::Lb).unwrap().amount, dec!(0.220462262));
        assert!(g.convert(Unit::Lb).unwrap().checked().is_ok());
    }

    #[test]
    fn addition_converts_into_the_left_unit() {
        let g = Quantity::new(dec!(100), Unit::G).unwrap();
        let sum = g.checked_add(&Quantity::new(dec!(500), Unit::Mg).unwrap()).unwrap();
        assert_eq!(sum.amount, dec!(100.5));
        assert_eq!(sum.unit, Unit::G);
    }

    #[test]
    fn amounts_as_text_are_trimmed_and_checked() {
        assert_eq!(Quantity::from_text(" -0.50 ", Unit::G).unwrap(), Quantity::parse("-0.50 g").unwrap());
        assert_eq!(Quantity::from_text("12,5", Unit::G), Err(QuantityError::NotANumber("12,5".into())));
        assert!(Quantity::from_text("1.5", Unit::Each).is_err());
    }

    #[test]
    fn unit_names_and_typed_amounts_in_a_unit() {
        assert_eq!(Unit::G.symbol(), "g");
        assert_eq!(Unit::Each.word(), "number of units");
        assert_eq!(Unit::Oz.word(), "ounces");
        let g = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(Quantity::parse_in(" 12.5 ", Some(Unit::G)).unwrap(), g("12.5 g"));
        assert_eq!(Quantity::parse_in("3", Some(Unit::Each)).unwrap(), g("3 each"));
        assert_eq!(Quantity::parse_in("0.5 oz", Some(Unit::G)).unwrap(), g("0.5 oz"));
        assert_eq!(Quantity::parse_in("2 each", None).unwrap(), g("2 each"));
        assert!(Quantity::parse_in("2", None).is_err());
        let typo = Quantity::parse_in("12,5", Some(Unit::G)).unwrap_err();
        assert_eq!(typo.to_string(), Quantity::parse("12,5 g").unwrap_err().to_string());
        assert!(Quantity::parse_in("  ", Some(Unit::G)).is_err());
    }
}
