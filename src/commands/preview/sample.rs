//! The sample values a preview draws a sheet with, and what a person may change of them.
//!
//! A sheet's data starts as its sample file (`sample/<kind>.json` beside the template, else the
//! built-in one). [`Sample`] then changes a few values in it: the account's name and password,
//! the PC's hostname, the site, how many labels and slips, and the language. Each value left
//! `None` stays as the sample file has it, so a preview without a playbook draws exactly the
//! sample file. With a playbook, the defaults are the site's ([`Sample::from_playbook`]): a name
//! its naming pattern renders, a password its policy draws, its site code and `output.lang`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::playbook::Playbook;
use crate::render::Kind;

/// The most labels or slips a preview draws (a few pages; a run has no such limit).
pub const MAX_COUNT: usize = 500;

/// The values a person may change in a preview's sample data; `None` keeps the sample file's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// The account's name (every slip and label shows this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The account's password (a sample, never a real account's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The PC's hostname (every slip and label shows this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// How many PC labels the label sheet holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<usize>,
    /// How many account slips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slips: Option<usize>,
    /// The language of the sheets' fixed words and dates (`en`, `fr`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The label sheet's grid and first label, from the playbook's `output.labels`.
    #[serde(skip)]
    pub layout: Option<(Value, u32)>,
}

impl Sample {
    /// The site's defaults: a name its pattern renders for its first address (random parts
    /// drawn), a password its policy draws, its site code, its language and label sheet.
    pub fn from_playbook(pb: &Playbook) -> Sample {
        Sample {
            username: Some(pb.example_username.clone()).filter(|n| !n.is_empty()),
            password: Some(pb.password.generate().expose().to_string()),
            site: Some(pb.site.clone()),
            lang: Some(pb.output.lang.clone()),
            layout: pb.output.labels.as_ref().map(|labels| {
                (
                    serde_json::to_value(&labels.grid).unwrap_or(Value::Null),
                    labels.start,
                )
            }),
            ..Sample::default()
        }
    }

    /// These values, with `changes` (a person's edits) over them.
    pub fn with(&self, changes: &Sample) -> Sample {
        Sample {
            username: changes.username.clone().or_else(|| self.username.clone()),
            password: changes.password.clone().or_else(|| self.password.clone()),
            hostname: changes.hostname.clone().or_else(|| self.hostname.clone()),
            site: changes.site.clone().or_else(|| self.site.clone()),
            labels: changes.labels.or(self.labels),
            slips: changes.slips.or(self.slips),
            lang: changes.lang.clone().or_else(|| self.lang.clone()),
            layout: self.layout.clone(),
        }
    }

    /// The language to draw in: this one's, else `en`.
    pub fn lang(&self) -> &str {
        self.lang.as_deref().unwrap_or("en")
    }

    /// `data` (a `kind` sheet's sample data) with these values in it.
    pub fn apply(&self, kind: Kind, mut data: Value) -> Value {
        match kind {
            Kind::User => self.fill(&mut data, true),
            Kind::Pc => self.fill(&mut data, false),
            Kind::Labels => {
                if let Some((grid, start)) = &self.layout {
                    data["layout"] = grid.clone();
                    data["start"] = json!(start);
                }
                self.fill_list(&mut data, "labels", self.labels, false);
            }
            Kind::Slips => self.fill_list(&mut data, "slips", self.slips, true),
        }
        data
    }

    /// Sets the values of one sheet (or one label, one slip) that it has a field for.
    fn fill(&self, sheet: &mut Value, with_password: bool) {
        let Some(fields) = sheet.as_object_mut() else {
            return;
        };
        let mut set = |key: &str, value: &Option<String>| {
            if let Some(value) = value {
                fields.insert(key.into(), json!(value));
            }
        };
        set("username", &self.username);
        set("hostname", &self.hostname);
        set("site", &self.site);
        if with_password {
            set("password", &self.password);
        }
        if let (Some(hostname), Some(facts)) = (
            &self.hostname,
            fields.get_mut("facts").and_then(Value::as_object_mut),
        ) {
            facts.insert("hostname".into(), json!(hostname));
        }
    }

    /// Makes the list `key` of `data` `count` long (new entries are the sample's, numbered on,
    /// each with its own MAC and address), then sets the values in each entry.
    fn fill_list(&self, data: &mut Value, key: &str, count: Option<usize>, with_password: bool) {
        let Some(list) = data.get_mut(key).and_then(Value::as_array_mut) else {
            return;
        };
        if let Some(count) = count.map(|c| c.min(MAX_COUNT)) {
            let sample = list.clone();
            list.truncate(count);
            for i in list.len()..count {
                let Some(mut entry) = sample.get(i % sample.len().max(1)).cloned() else {
                    break;
                };
                let n = i + 1;
                let mac = format!("52:54:00:00:{:02x}:{:02x}", n / 256, n % 256);
                if let Some(fields) = entry.as_object_mut() {
                    fields.insert("number".into(), json!(n));
                    fields.insert(
                        "ip".into(),
                        json!(format!("10.0.{}.{}", n / 250, n % 250 + 2)),
                    );
                    if fields.contains_key("qr") {
                        fields.insert("qr".into(), json!(mac));
                    }
                    fields.insert("mac".into(), json!(mac));
                }
                list.push(entry);
            }
        }
        for entry in list {
            self.fill(entry, with_password);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin(kind: Kind) -> Value {
        serde_json::from_str(kind.builtin_sample()).unwrap()
    }

    #[test]
    fn no_values_keep_the_sample_as_it_is() {
        for kind in [Kind::User, Kind::Pc, Kind::Labels, Kind::Slips] {
            assert_eq!(Sample::default().apply(kind, builtin(kind)), builtin(kind));
        }
    }

    #[test]
    fn values_reach_every_sheet_and_lists_grow_or_shrink() {
        let sample = Sample {
            username: Some("A-VERY-LONG-NAME".into()),
            hostname: Some("a-long-hostname".into()),
            labels: Some(30),
            slips: Some(2),
            ..Sample::default()
        };
        let user = sample.apply(Kind::User, builtin(Kind::User));
        assert_eq!(user["username"], "A-VERY-LONG-NAME");
        assert_eq!(user["facts"]["hostname"], "a-long-hostname");
        let labels = sample.apply(Kind::Labels, builtin(Kind::Labels));
        let labels = labels["labels"].as_array().unwrap();
        assert_eq!(labels.len(), 30);
        assert_eq!(labels[29]["number"], 30);
        assert_eq!(labels[29]["qr"], labels[29]["mac"]);
        assert!(labels.iter().all(|l| l["hostname"] == "a-long-hostname"));
        let slips = sample.apply(Kind::Slips, builtin(Kind::Slips));
        assert_eq!(slips["slips"].as_array().unwrap().len(), 2);
        let many = Sample {
            slips: Some(10_000),
            ..Sample::default()
        };
        let slips = many.apply(Kind::Slips, builtin(Kind::Slips));
        assert_eq!(slips["slips"].as_array().unwrap().len(), MAX_COUNT);
    }

    #[test]
    fn changes_go_over_the_defaults() {
        let defaults = Sample {
            username: Some("USERSS001-1234".into()),
            lang: Some("fr".into()),
            ..Sample::default()
        };
        let changes = Sample {
            lang: Some("en".into()),
            ..Sample::default()
        };
        let both = defaults.with(&changes);
        assert_eq!(both.username.as_deref(), Some("USERSS001-1234"));
        assert_eq!(both.lang(), "en");
        assert_eq!(Sample::default().lang(), "en");
    }
}
