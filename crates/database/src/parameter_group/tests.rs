//! The parameter group diff, without AWS.

use super::*;
use ironbark_core::plan::Change;
use ironbark_core::Tags;

fn spec(params: &[(&str, &str)]) -> ParameterGroupSpec {
    ParameterGroupSpec {
        logical_id: "database/parameters".into(),
        scope: Scope::Instance,
        family: "postgres16".into(),
        description: "d".into(),
        parameters: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn observed(params: &[(&str, &str, &str)], tags: &Tags) -> ObservedParameterGroup {
    ObservedParameterGroup {
        name: "n".into(),
        arn: "arn".into(),
        family: "postgres16".into(),
        description: "d".into(),
        parameters: params
            .iter()
            .map(|(k, v, t)| {
                (
                    (*k).to_owned(),
                    ObservedParameter {
                        value: (*v).to_owned(),
                        apply_type: Some((*t).to_owned()),
                    },
                )
            })
            .collect(),
        tags: tags.as_map().clone(),
    }
}

#[test]
fn static_changes_say_pending_reboot_and_removed_ones_reset() {
    let tags = Tags::standard("p", "dev", "o", "c", "s");
    let obs = observed(
        &[
            ("log_min_duration_statement", "500", "dynamic"),
            ("work_mem", "4096", "dynamic"),
        ],
        &tags,
    );
    let want = spec(&[
        ("log_min_duration_statement", "1000"),
        ("shared_preload_libraries", "pg_stat_statements"),
    ]);
    let Change::Update { fields } = decide(&want, &tags, Some(&obs)) else {
        panic!("expected an update");
    };
    let text: Vec<String> = fields
        .iter()
        .map(|f| format!("{}={:?}->{:?}", f.field, f.old, f.new))
        .collect();
    assert_eq!(
        text,
        [
            "parameters.log_min_duration_statement=Some(\"500\")->Some(\"1000\")",
            "parameters.shared_preload_libraries=None->Some(\"pg_stat_statements (pending-reboot)\")",
            "parameters.work_mem=Some(\"4096\")->Some(\"(engine default)\")",
        ]
    );
}

#[test]
fn family_change_is_refused_and_converged_is_noop() {
    let tags = Tags::standard("p", "dev", "o", "c", "s");
    let obs = observed(&[("work_mem", "4096", "dynamic")], &tags);
    assert_eq!(
        decide(&spec(&[("work_mem", "4096")]), &tags, Some(&obs)),
        Change::NoOp
    );
    let mut next = spec(&[("work_mem", "4096")]);
    next.family = "postgres17".into();
    assert!(matches!(
        decide(&next, &tags, Some(&obs)),
        Change::Refused { field, .. } if field.starts_with("family")
    ));
}

#[test]
fn apply_type_from_aws_wins_over_the_known_list() {
    let dynamic = ObservedParameter {
        value: "x".into(),
        apply_type: Some("dynamic".into()),
    };
    assert!(!is_static("max_connections", Some(&dynamic)));
    assert!(is_static("max_connections", None));
    assert!(!is_static("work_mem", None));
}
