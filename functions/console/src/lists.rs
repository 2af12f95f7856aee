//! CAMP-4: reading an uploaded contact list (CSV with a header row) into the rules' list rows.
//! Row numbers are what the admin sees in a spreadsheet: the header is row 1, the first contact
//! row 2. Which rows are imported is decided by `rules::campaign::import_list`.

use rules::campaign::ListRow;
use std::collections::BTreeMap;

/// The most rows one upload may hold.
pub const MAX_ROWS: usize = 50_000;

/// The list as read: rows to import, and rows the CSV reader could not read (row, reason).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ParsedList {
    pub rows: Vec<ListRow>,
    pub unreadable: Vec<(u32, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("the list is empty: the first row must name the columns (phone, first_name, …)")]
    Empty,
    #[error("the header row has no phone column (accepted names: phone, phone_number, mobile)")]
    NoPhoneColumn,
    #[error("the header row cannot be read: {0}")]
    BadHeader(String),
    #[error("the list has more than {MAX_ROWS} rows; split it")]
    TooManyRows,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Phone,
    FirstName,
    LastName,
    Email,
    Custom(usize),
}

fn column(name: &str, index: usize) -> Column {
    let key: String = name
        .trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect();
    match key.as_str() {
        "phone" | "phone_number" | "mobile" | "whatsapp" => Column::Phone,
        "first_name" | "firstname" | "given_name" => Column::FirstName,
        "last_name" | "lastname" | "surname" | "family_name" => Column::LastName,
        "email" | "e_mail" | "email_address" => Column::Email,
        _ => Column::Custom(index),
    }
}

/// Reads a CSV list. Columns other than phone, first and last name and email become custom
/// fields (TPL-3 may map template variables to them), keyed by their header text.
pub fn parse_csv(bytes: &[u8]) -> Result<ParsedList, ListError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| ListError::BadHeader(e.to_string()))?
        .clone();
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(ListError::Empty);
    }
    let columns: Vec<Column> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| column(h, i))
        .collect();
    if !columns.contains(&Column::Phone) {
        return Err(ListError::NoPhoneColumn);
    }
    let mut out = ParsedList::default();
    for (i, record) in reader.records().enumerate() {
        if i >= MAX_ROWS {
            return Err(ListError::TooManyRows);
        }
        // The record's first line in the file: header = 1, as a spreadsheet numbers rows.
        // Counted from the record's byte offset, so blank lines count as a text editor shows them.
        let line = |p: Option<&csv::Position>| -> u32 {
            let line = match p {
                Some(p) => {
                    // The position may be before blank lines the reader skipped.
                    let mut end = usize::try_from(p.byte())
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    while end < bytes.len() && (bytes[end] == b'\n' || bytes[end] == b'\r') {
                        end += 1;
                    }
                    bytes[..end].iter().filter(|&&b| b == b'\n').count() + 1
                }
                None => i + 2,
            };
            u32::try_from(line).unwrap_or(u32::MAX)
        };
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.unreadable
                    .push((line(e.position()), format!("unreadable row: {e}")));
                continue;
            }
        };
        let row = line(record.position());
        if record.iter().all(str::is_empty) {
            continue; // blank lines are not contacts
        }
        let mut parsed = ListRow {
            row,
            ..ListRow::default()
        };
        let mut custom = BTreeMap::new();
        for (value, col) in record.iter().zip(&columns) {
            let value = value.to_owned();
            match col {
                Column::Phone => parsed.phone = value,
                Column::FirstName => parsed.first_name = Some(value),
                Column::LastName => parsed.last_name = Some(value),
                Column::Email => parsed.email = Some(value),
                Column::Custom(index) => {
                    if !value.is_empty() {
                        custom.insert(headers[*index].trim().to_owned(), value);
                    }
                }
            }
        }
        parsed.custom = custom;
        out.rows.push(parsed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camp_4_rows_are_numbered_as_in_a_spreadsheet_with_custom_columns() {
        let csv = "Phone,First Name,email,Plan\n+4915123456789,Jana,jana@example.com,gold\n\n015123,Petr,,\n";
        let list = parse_csv(csv.as_bytes()).unwrap();
        assert_eq!(list.rows.len(), 2);
        assert_eq!(list.rows[0].row, 2);
        assert_eq!(list.rows[0].first_name.as_deref(), Some("Jana"));
        assert_eq!(
            list.rows[0].custom.get("Plan").map(String::as_str),
            Some("gold")
        );
        // The blank line is row 3; the next contact is row 4.
        assert_eq!(list.rows[1].row, 4);
        assert_eq!(list.rows[1].phone, "015123");
    }

    #[test]
    fn camp_4_a_list_without_a_phone_column_or_header_is_refused_whole() {
        assert_eq!(
            parse_csv(b"name,email\nJana,j@example.com\n").unwrap_err(),
            ListError::NoPhoneColumn
        );
        assert_eq!(parse_csv(b"").unwrap_err(), ListError::Empty);
    }
}
