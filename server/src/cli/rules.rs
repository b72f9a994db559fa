//! `kith source rules`: showing and changing a source's sync rules.

use super::args::RulesArgs;
use super::lookup::{absolute, book_id, move_book, source, user};
use crate::store::sources::SourcePatch;
use crate::store::{Store, StoreError};
use crate::sync;
use kith_connectors::record::Field;
use kith_connectors::rules::{Direction, Owner, Rules};

type CliResult = Result<(), String>;

fn store_err(e: StoreError) -> String {
    e.to_string()
}

fn sync_err(e: crate::sync::SyncError) -> String {
    super::lookup::sync_words(e)
}

pub fn rules_text(r: &Rules, applied_once: bool) -> String {
    let side = |s: &kith_connectors::rules::Side| {
        let f = |b: bool| if b { "allow" } else { "block" };
        format!(
            "create {}, update {}, delete {}",
            f(s.create),
            f(s.update),
            f(s.delete)
        )
    };
    let mut t = String::from("Rules:\n");
    t.push_str(&format!("  direction          {}\n", r.direction.as_str()));
    t.push_str(&format!("  kith side          {}\n", side(&r.kith)));
    t.push_str(&format!("  source side        {}\n", side(&r.source)));
    t.push_str(&format!(
        "  delete protection  {}\n",
        if r.delete_protection { "on" } else { "off" }
    ));
    if !r.ignore_domains.is_empty() {
        t.push_str(&format!(
            "  ignore domains     {}\n",
            r.ignore_domains.join(", ")
        ));
    }
    if !r.scope.is_empty() {
        t.push_str(&format!("  scope              {}\n", r.scope.join(", ")));
    }
    if !r.folders.is_empty() {
        t.push_str(&format!("  folders            {}\n", r.folders.join(", ")));
    }
    if let Some(target) = &r.target {
        t.push_str(&format!("  creates go to      {target}\n"));
    }
    for (f, o) in &r.fields {
        let o = match o {
            Owner::Kith => "kith",
            Owner::Source => "source",
        };
        t.push_str(&format!("  field {f:<12} owned by {o}\n"));
    }
    let sch = &r.schedule;
    t.push_str(&format!(
        "  schedule           {}, every {}{}{}\n",
        if sch.auto {
            "automatic"
        } else if applied_once {
            "manual"
        } else {
            "manual (apply one plan before enabling automatic runs)"
        },
        sch.every,
        sch.window
            .as_deref()
            .map(|w| format!(", between {w}"))
            .unwrap_or_default(),
        sch.timezone
            .as_deref()
            .map(|z| format!(" {z}"))
            .unwrap_or_default()
    ));
    t
}

fn side_op(spec: &str, allow: bool, r: &mut Rules) -> Result<(), String> {
    let (side, op) = spec
        .split_once(':')
        .ok_or_else(|| format!("{spec:?} is not SIDE:OP, e.g. kith:delete or source:create"))?;
    let s = match side {
        "kith" => &mut r.kith,
        "source" => &mut r.source,
        _ => {
            return Err(format!(
                "unknown side {side:?} in {spec:?}; use kith or source"
            ));
        }
    };
    match op {
        "create" => s.create = allow,
        "update" => s.update = allow,
        "delete" => s.delete = allow,
        _ => {
            return Err(format!(
                "unknown operation {op:?} in {spec:?}; use create, update or delete"
            ));
        }
    }
    Ok(())
}

pub async fn rules(store: &dyn Store, a: RulesArgs) -> CliResult {
    let user = user(store, &a.user).await?;
    let s = source(store, &user, &a.name).await?;
    let mut r = match &a.file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read {}: {e}", f.display()))?;
            toml::from_str::<Rules>(&text).map_err(|e| format!("{}: {e}", f.display()))?
        }
        None => sync::parse_rules(&s).map_err(sync_err)?,
    };
    if let Some(d) = &a.direction {
        r.direction = Direction::parse(d).ok_or_else(|| {
            format!("unknown direction {d:?}; use import-only, export-only or two-way")
        })?;
    }
    for spec in &a.allow {
        side_op(spec, true, &mut r)?;
    }
    for spec in &a.block {
        side_op(spec, false, &mut r)?;
    }
    if let Some(p) = &a.delete_protection {
        r.delete_protection = p == "on";
    }
    for d in &a.ignore_domain {
        let d = d.trim().to_lowercase();
        if !r.ignore_domains.contains(&d) {
            r.ignore_domains.push(d);
        }
    }
    if a.scope.iter().any(|s| s == "all") {
        r.scope.clear();
    } else {
        r.scope.extend(a.scope.iter().cloned());
    }
    if a.folder.iter().any(|s| s == "all") {
        r.folders.clear();
    } else {
        for f in &a.folder {
            if !r.folders.contains(f) {
                r.folders.push(f.clone());
            }
        }
    }
    if let Some(t) = &a.target {
        let t = t.trim();
        r.target = (!t.is_empty() && t != "none").then(|| t.to_string());
    }
    for spec in &a.field {
        let (f, o) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec:?} is not FIELD=OWNER, e.g. title=source"))?;
        let field = Field::parse(f).ok_or_else(|| {
            let known: Vec<&str> = Field::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown field {f:?}; known fields: {}", known.join(", "))
        })?;
        let owner = match o {
            "source" => Owner::Source,
            "kith" => Owner::Kith,
            _ => {
                return Err(format!(
                    "unknown owner {o:?} in {spec:?}; use source or kith"
                ));
            }
        };
        r.fields.insert(field.as_str().to_string(), owner);
    }
    if let Some(e) = &a.every {
        r.schedule.every = e.clone();
    }
    if let Some(w) = &a.window {
        r.schedule.window = (w != "any").then(|| w.clone());
    }
    if let Some(z) = &a.timezone {
        jiff::tz::TimeZone::get(z).map_err(|e| format!("unknown time zone {z:?}: {e}"))?;
        r.schedule.timezone = Some(z.clone());
    }
    if let Some(on) = &a.auto {
        if on == "on" && !s.applied_once {
            return Err(format!(
                "source {} stays manual until one plan is applied: run `kith sync plan {} --user {}`, check it, then `kith sync apply RUN`",
                s.name, s.name, user.name
            ));
        }
        r.schedule.auto = on == "on";
    }
    r.validate_for(s.kind)?;
    if let Some(b) = &a.book {
        if s.kind.is_calendar() {
            return Err(format!(
                "source {} fills a calendar, not an address book; connect the calendar again with `kith source calendar … --into CALENDAR` to fill another",
                s.name
            ));
        }
        let id = book_id(store, &user, b).await?;
        move_book(store, &s, id).await?;
    }
    if let Some(l) = &a.location {
        store
            .patch_source(s.id, SourcePatch::Location(absolute(l)?))
            .await
            .map_err(store_err)?;
    }
    let json = serde_json::to_string(&r).map_err(|e| e.to_string())?;
    store
        .patch_source(s.id, SourcePatch::Rules(json))
        .await
        .map_err(store_err)?;
    print!("{}", rules_text(&r, s.applied_once));
    Ok(())
}
