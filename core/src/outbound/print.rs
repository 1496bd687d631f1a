//! What leaves the system on paper or to the state: the printable manifest (one page per stop,
//! patient data redacted) and the state system's outgoing-transfer template.

use serde::Serialize;

use crate::store::UnitOfWork;
use crate::work::manifest::{OutboundManifest, Stop};

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The printable manifest as one HTML document, one page per stop (or only `stop`). Patient
/// data appears only as initials and the card's last four digits.
pub fn manifest_html(m: &OutboundManifest, stop: Option<u32>) -> String {
    let mut html = String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>Manifest ");
    html.push_str(&escape(&m.number));
    html.push_str(
        "</title><style>body{font-family:sans-serif;font-size:11pt}section{page-break-after:always}\
         table{border-collapse:collapse;width:100%}td,th{border:1px solid #444;padding:3px;text-align:left}\
         .sig{margin-top:2em}</style></head><body>",
    );
    for s in m.stops.iter().filter(|s| stop.is_none_or(|n| n == s.number)) {
        stop_page(&mut html, m, s);
    }
    html.push_str("</body></html>");
    html
}

fn stop_page(html: &mut String, m: &OutboundManifest, s: &Stop) {
    let e = escape;
    html.push_str(&format!(
        "<section><h1>Manifest {} &mdash; stop {} of {}</h1>\
         <p><b>Shipper</b> {}<br><b>Recipient</b> {} ({})<br>{}</p>\
         <p><b>Order</b> {}{}</p>\
         <p><b>Driver</b> {} &mdash; licence {}, occupational licence {}<br>\
         <b>Vehicle</b> {} {} &mdash; plate {}<br><b>Questions</b> {}</p>\
         <p><b>Planned route</b> {}<br><b>Estimated departure</b> {} UTC<br><b>Estimated arrival</b> {} UTC</p>\
         <table><tr><th>Package</th><th>Item</th><th>Batch</th><th>Quantity</th><th>Container</th><th>Gross weight</th><th>Wholesale price</th></tr>",
        e(&m.number),
        s.number,
        m.stops.len(),
        e(m.shipper.as_str()),
        e(&s.recipient.name),
        e(s.recipient.licence.as_str()),
        e(&s.recipient.address),
        e(&s.order_number),
        s.patient_ref.as_ref().map(|p| format!(" &mdash; medical delivery for patient {}", e(p))).unwrap_or_default(),
        e(&m.driver.name),
        e(&m.driver.licence_number),
        e(&m.driver.occupational_licence),
        e(&m.vehicle.make),
        e(&m.vehicle.model),
        e(&m.vehicle.plate),
        e(&m.phone_for_questions),
        e(&s.planned_route),
        s.estimated_departure.format("%Y-%m-%d %H:%M"),
        s.estimated_arrival.format("%Y-%m-%d %H:%M"),
    ));
    for p in &s.packages {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(p.tag.as_str()),
            e(p.item.as_str()),
            e(p.batch.as_str()),
            e(&p.quantity.to_string()),
            e(&p.container),
            e(&p.gross_weight.to_string()),
            crate::bounds::money(p.wholesale_price)
        ));
    }
    html.push_str(
        "</table><p class=\"sig\">Received by (name, licence no.) ______________________ Signature ____________ Time ________</p></section>",
    );
}

/// `POST /transfers/v2/templates/outgoing` body for one manifest (the state takes an array).
/// Prices and weights are written as decimal strings so no amount passes through a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetrcTemplate {
    pub name: String,
    pub transporter_facility_license_number: String,
    pub driver_name: String,
    pub driver_license_number: String,
    pub driver_occupational_license_number: String,
    pub phone_number_for_questions: String,
    pub vehicle_make: String,
    pub vehicle_model: String,
    pub vehicle_license_plate_number: String,
    pub destinations: Vec<MetrcDestination>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetrcDestination {
    pub recipient_license_number: String,
    pub transfer_type_name: String,
    pub planned_route: String,
    pub estimated_departure_date_time: String,
    pub estimated_arrival_date_time: String,
    pub packages: Vec<MetrcPackage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetrcPackage {
    pub package_label: String,
    pub wholesale_price: String,
    pub gross_weight: String,
    pub gross_unit_of_weight_name: String,
}

pub fn metrc_template(m: &OutboundManifest) -> MetrcTemplate {
    MetrcTemplate {
        name: m.number.clone(),
        transporter_facility_license_number: m.shipper.as_str().to_string(),
        driver_name: m.driver.name.clone(),
        driver_license_number: m.driver.licence_number.clone(),
        driver_occupational_license_number: m.driver.occupational_licence.clone(),
        phone_number_for_questions: m.phone_for_questions.clone(),
        vehicle_make: m.vehicle.make.clone(),
        vehicle_model: m.vehicle.model.clone(),
        vehicle_license_plate_number: m.vehicle.plate.clone(),
        destinations: m
            .stops
            .iter()
            .map(|s| MetrcDestination {
                recipient_license_number: s.recipient.licence.as_str().to_string(),
                transfer_type_name: if s.patient_ref.is_some() { "Medical Delivery".into() } else { "Wholesale Manifest".into() },
                planned_route: s.planned_route.clone(),
                estimated_departure_date_time: s.estimated_departure.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                estimated_arrival_date_time: s.estimated_arrival.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                packages: s
                    .packages
                    .iter()
                    .map(|p| MetrcPackage {
                        package_label: p.tag.as_str().to_string(),
                        wholesale_price: crate::bounds::money(p.wholesale_price),
                        gross_weight: p.gross_weight.amount.normalize().to_string(),
                        gross_unit_of_weight_name: p.gross_weight.unit.metrc_name().to_string(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The printable manifest of a manifest document on this device (HTML; print to PDF from the
/// platform's print dialog): all stops, or one.
pub fn manifest_page(w: &mut UnitOfWork<'_>, manifest: uuid::Uuid, stop: Option<u32>) -> super::picking::Result<String> {
    Ok(manifest_html(&super::shipping::route(w, manifest)?.manifest, stop))
}
