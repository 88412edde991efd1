use super::*;

fn read(xml: &str) -> ReadOutcome {
    match read_dimona_file(xml.as_bytes(), &Limits::default()) {
        Ok(o) => o,
        Err(e) => panic!("io error on an in-memory file: {e}"),
    }
}

fn errors(xml: &str) -> Vec<FileError> {
    match read(xml) {
        ReadOutcome::Rejected(e) => e,
        ReadOutcome::Accepted(f) => panic!("accepted {} forms", f.len()),
    }
}

fn forms(xml: &str) -> Vec<Form> {
    match read(xml) {
        ReadOutcome::Accepted(f) => f,
        ReadOutcome::Rejected(e) => panic!("rejected: {e:?}"),
    }
}

const HEADER: &str = "<Identification>DIMONA</Identification>\n<FormCreationDate>2023-02-06</FormCreationDate>\n<FormCreationHour>14:35:00.000</FormCreationHour>\n<AttestationStatus>0</AttestationStatus>\n<TypeForm>SU</TypeForm>\n";

fn file(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Dimona>\n<Form>\n{HEADER}{body}</Form>\n</Dimona>\n"
    )
}

#[test]
fn reads_the_published_example() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/onss/examples/Dimona_20231_1.xml"
    );
    let Ok(xml) = std::fs::read_to_string(path) else {
        // The shared reference folder is beside the repository in CI.
        eprintln!("skipping: {path} not found");
        return;
    };
    let f = forms(&xml);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, "DimonaIn");
    let inss = f[0]
        .get("DimonaIn/NaturalPerson/INSS")
        .map(|v| (v.text.as_str(), v.line));
    assert_eq!(inss, Some(("01410199955", 21)));
    assert_eq!(
        f[0].get("DimonaIn/EmployerId/NOSSRegistrationNbr")
            .map(|v| v.text.as_str()),
        Some("175110801")
    );
    assert_eq!(f[0].all("Reference/ReferenceNbr").count(), 1);
}

#[test]
fn several_forms_keep_their_order_and_lines() {
    let form = |inss: &str| {
        format!(
            "<Form>\n{HEADER}<DimonaIn><StartingDate>2025-01-01</StartingDate><NaturalPerson><INSS>{inss}</INSS></NaturalPerson></DimonaIn>\n</Form>\n"
        )
    };
    let xml = format!("<Dimona>\n{}{}{}</Dimona>", form("1"), form("2"), form("3"));
    // The pattern allows one digit only as 0.
    let e = errors(&xml);
    assert_eq!(e.len(), 3);
    assert!(e.iter().all(|e| e.error_id == "00024-003"), "{e:?}");
    let xml = format!("<Dimona>\n{}{}</Dimona>", form("01410199955"), form("0"));
    let f = forms(&xml);
    assert_eq!(f.iter().map(|f| f.index).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(f[0].line, 2);
    assert_eq!(f[1].line, 10);
    assert_eq!(
        f[1].get("DimonaIn/NaturalPerson/INSS").map(|v| v.line),
        Some(16)
    );
}

#[test]
fn malformed_xml_is_refused_with_its_line() {
    let e = errors("<Dimona>\n<Form>\n<Identification>DIMONA</Identification>\n</Dimona>");
    assert_eq!(
        e.last().map(|e| (e.error_id.as_str(), e.line)),
        Some(("90372-003", 4)),
        "{e:?}"
    );
    let e = errors("");
    assert_eq!(e[0].error_id, "90372-001");
    let e = errors("<Other/>");
    assert_eq!(e[0].error_id, "90372-001");
}

#[test]
fn dtds_and_entities_are_refused() {
    let bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE Dimona [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]>\n<Dimona>&b;</Dimona>";
    let e = errors(bomb);
    assert_eq!((e[0].error_id.as_str(), e[0].line), ("90372-005", 2));
    let ext = "<Dimona><Form>&xxe;</Form></Dimona>";
    assert_eq!(errors(ext)[0].error_id, "90372-005");
    // Predefined entities and character references are fine.
    let f = forms(&file(
        "<Reference><ReferenceType>1</ReferenceType><ReferenceOrigin>1</ReferenceOrigin><ReferenceNbr>a&amp;b&#65;</ReferenceNbr></Reference>\n<DimonaCancel><DimonaPeriodId>123456789012</DimonaPeriodId></DimonaCancel>\n",
    ));
    assert_eq!(
        f[0].get("Reference/ReferenceNbr").map(|v| v.text.as_str()),
        Some("a&bA")
    );
}

#[test]
fn structure_errors_name_the_zone_and_line() {
    // Missing mandatory StartingDate (zone 00910) and NaturalPerson (block 90017).
    let e = errors(&file(
        "<DimonaIn>\n<EndingDate>2025-01-02</EndingDate>\n</DimonaIn>\n",
    ));
    let ids: Vec<&str> = e.iter().map(|e| e.error_id.as_str()).collect();
    assert_eq!(ids, vec!["00910-001", "90017-001"], "{e:?}");
    // A bad date, on line 8.
    let e = errors(&file(
        "<DimonaIn>\n<StartingDate>2025-02-30</StartingDate>\n<NaturalPerson/>\n</DimonaIn>\n",
    ));
    assert_eq!(
        (e[0].error_id.as_str(), e[0].line, e[0].column),
        ("00910-003", 10, 1),
        "{e:?}"
    );
    // Out of order: EndingDate before StartingDate.
    let e = errors(&file(
        "<DimonaIn>\n<EndingDate>2025-01-02</EndingDate>\n<StartingDate>2025-01-01</StartingDate>\n<NaturalPerson/>\n</DimonaIn>\n",
    ));
    assert!(e.iter().any(|e| e.error_id == "90373-091"), "{e:?}");
    // An element the schema does not know.
    let e = errors(&file(
        "<DimonaIn>\n<StartingDate>2025-01-01</StartingDate>\n<Salary>1</Salary>\n<NaturalPerson/>\n</DimonaIn>\n",
    ));
    assert_eq!(e[0].error_id, "90373-091");
    assert!(e[0].message.contains("Salary"));
    // A forbidden element.
    let e = errors(&file(
        "<DimonaIn>\n<StartingDate>2025-01-01</StartingDate>\n<NaturalPerson><SIS>1</SIS></NaturalPerson>\n</DimonaIn>\n",
    ));
    assert_eq!(e[0].error_id, "00167-005");
    // Two declarations in one form.
    let e = errors(&file(
        "<DimonaCancel><DimonaPeriodId>1</DimonaPeriodId></DimonaCancel>\n<DimonaCancel><DimonaPeriodId>1</DimonaPeriodId></DimonaCancel>\n",
    ));
    assert_eq!(e[0].error_id, "90059-091");
    // An enumeration.
    let e = errors(&file(
        "<DimonaIn>\n<StartingDate>2025-01-01</StartingDate>\n<NaturalPerson/>\n<DimonaFeatures><WorkerType>XYZ</WorkerType></DimonaFeatures>\n</DimonaIn>\n",
    ));
    assert_eq!(e[0].error_id, "00655-008");
    // No form at all.
    let e = errors("<Dimona></Dimona>");
    assert_eq!(e[0].error_id, "90059-001");
}

#[test]
fn whitespace_between_many_forms_is_not_text() {
    let form = format!(
        "<Form>\n{HEADER}<DimonaCancel><DimonaPeriodId>1</DimonaPeriodId></DimonaCancel>\n</Form>\n"
    );
    let xml = format!("<Dimona>\n{}</Dimona>", form.repeat(5_000));
    assert_eq!(forms(&xml).len(), 5_000);
    let e = errors(&format!("<Dimona>\n{form}stray text\n</Dimona>"));
    assert_eq!(e[0].error_id, "90372-003");
}

#[test]
fn limits_hold() {
    let limits = Limits {
        max_forms: 1,
        ..Limits::default()
    };
    let form = format!(
        "<Form>{HEADER}<DimonaCancel><DimonaPeriodId>1</DimonaPeriodId></DimonaCancel></Form>"
    );
    let xml = format!("<Dimona>{form}{form}</Dimona>");
    let Ok(ReadOutcome::Rejected(e)) = read_dimona_file(xml.as_bytes(), &limits) else {
        panic!("two forms accepted with max_forms = 1");
    };
    assert_eq!(e[0].error_id, "90059-006");
    let deep = format!(
        "<Dimona>{}{}</Dimona>",
        "<a>".repeat(100),
        "</a>".repeat(100)
    );
    assert!(matches!(read(&deep), ReadOutcome::Rejected(_)));
    let long = file(&format!(
        "<Reference><ReferenceType>1</ReferenceType><ReferenceOrigin>1</ReferenceOrigin><ReferenceNbr>{}</ReferenceNbr></Reference>",
        "x".repeat(10_000)
    ));
    assert_eq!(errors(&long)[0].error_id, "00222-003");
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
        let _ = read_dimona_file(&bytes[..], &Limits::default());
    }

    #[test]
    fn never_panics_on_mangled_valid_files(cut in 0usize..600, insert in "[<>&/a-zA-Z0-9 ]{0,8}") {
        let xml = file("<DimonaIn>\n<StartingDate>2025-01-01</StartingDate>\n<NaturalPerson><INSS>01410199955</INSS></NaturalPerson>\n</DimonaIn>\n");
        let cut = cut.min(xml.len());
        let cut = (0..=cut).rev().find(|i| xml.is_char_boundary(*i)).unwrap_or(0);
        let mangled = format!("{}{}{}", &xml[..cut], insert, &xml[cut..]);
        let _ = read_dimona_file(mangled.as_bytes(), &Limits::default());
    }
}
