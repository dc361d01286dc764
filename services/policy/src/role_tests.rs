#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;

fn cand(group: &str, role: &str, priority: i32) -> Candidate {
    Candidate {
        group_id: group.into(),
        role: role.into(),
        priority,
    }
}

fn active<'a>(candidates: &'a [Candidate], default_role: Option<&'a str>) -> Inputs<'a> {
    Inputs {
        locked_role: None,
        deleted: false,
        active: true,
        candidates,
        default_role,
    }
}

#[test]
fn each_row_of_the_table() {
    let groups = [cand("g1", "Viewer", 1), cand("g2", "Admin", 5)];
    let base = active(&groups, Some("Guest"));

    let locked = Inputs {
        locked_role: Some("Frozen"),
        deleted: true,
        active: false,
        ..base
    };
    assert_eq!(decide(&locked).role, "Frozen");
    assert_eq!(decide(&locked).reason.rule, Rule::Locked);

    let deleted = Inputs {
        deleted: true,
        active: false,
        ..base
    };
    assert_eq!(
        decide(&deleted),
        Decision {
            role: "Disabled".into(),
            reason: Reason::of(Rule::Deleted)
        }
    );

    let inactive = Inputs {
        active: false,
        ..base
    };
    assert_eq!(decide(&inactive).reason.rule, Rule::Inactive);
    assert_eq!(decide(&inactive).role, "Disabled");

    let d = decide(&base);
    assert_eq!(d.role, "Admin");
    assert_eq!(
        d.reason,
        Reason {
            rule: Rule::GroupAssignment,
            group_id: Some("g2".into()),
            priority: 5
        }
    );

    assert_eq!(decide(&active(&[], Some("Guest"))).role, "Guest");
    assert_eq!(
        decide(&active(&[], Some("Guest"))).reason.rule,
        Rule::DefaultRole
    );
    let none = decide(&active(&[], None));
    assert_eq!(
        (none.role.as_str(), none.reason.rule),
        ("", Rule::NoDefaultRole)
    );
}

#[test]
fn priority_ties_go_to_the_smallest_group_id() {
    let groups = [
        cand("b", "B", 3),
        cand("a", "A", 3),
        cand("c", "C", 3),
        cand("z", "Z", -1),
    ];
    let d = decide(&active(&groups, None));
    assert_eq!(d.role, "A");
    assert_eq!(d.reason.group_id.as_deref(), Some("a"));
}

#[test]
fn a_locked_user_keeps_even_an_empty_role() {
    let inputs = Inputs {
        locked_role: Some(""),
        ..active(&[], Some("Guest"))
    };
    assert_eq!(decide(&inputs).role, "");
    assert_eq!(decide(&inputs).reason.rule, Rule::Locked);
}

#[test]
fn explain_lists_every_rule_and_marks_the_decider() {
    let groups = [cand("g", "Admin", 1)];
    let inputs = Inputs {
        active: false,
        ..active(&groups, Some("Guest"))
    };
    let steps = explain(&inputs);
    assert_eq!(
        steps.iter().map(|s| s.rule).collect::<Vec<_>>(),
        Rule::ORDER.to_vec()
    );
    let applying: Vec<Rule> = steps.iter().filter(|s| s.applies).map(|s| s.rule).collect();
    assert_eq!(applying, vec![Rule::Inactive]);
    assert!(steps[3].detail.contains("group g"), "{}", steps[3].detail);
}

#[test]
fn rule_codes_round_trip() {
    for rule in Rule::ORDER {
        assert_eq!(Rule::from_code(rule.code()), Some(rule));
    }
    assert_eq!(Rule::from_code("nonsense"), None);
}

#[test]
fn summaries_name_the_deciding_group() {
    let reason = Reason {
        rule: Rule::GroupAssignment,
        group_id: Some("sales".into()),
        priority: 7,
    };
    assert_eq!(
        reason.summary(),
        "assigned through group sales (priority 7)"
    );
}

fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
    // Distinct group ids (assignments are keyed by group), few priorities so
    // that ties happen often.
    prop::collection::btree_map("[a-e]{1,2}", (0..4usize, -2..3i32), 0..6).prop_map(|m| {
        m.into_iter()
            .map(|(group_id, (role, priority))| Candidate {
                group_id,
                role: format!("R{role}"),
                priority,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decide_matches_the_table(
        locked in prop::option::of("[A-Z][a-z]{0,4}"),
        deleted in any::<bool>(),
        active_flag in any::<bool>(),
        groups in candidates(),
        default_role in prop::option::of("[A-Z][a-z]{0,4}"),
        seed in any::<u64>(),
    ) {
        let inputs = Inputs {
            locked_role: locked.as_deref(),
            deleted,
            active: active_flag,
            candidates: &groups,
            default_role: default_role.as_deref(),
        };
        let d = decide(&inputs);
        // An independent statement of the table.
        let expected = if let Some(l) = &locked {
            l.clone()
        } else if deleted || !active_flag {
            "Disabled".to_owned()
        } else if let Some(top) = groups.iter().map(|c| c.priority).max() {
            let mut tied: Vec<&Candidate> = groups.iter().filter(|c| c.priority == top).collect();
            tied.sort_by(|a, b| a.group_id.cmp(&b.group_id));
            tied[0].role.clone()
        } else {
            default_role.clone().unwrap_or_default()
        };
        prop_assert_eq!(&d.role, &expected);

        // The order of the user's groups never matters.
        let mut shuffled = groups.clone();
        let n = shuffled.len().max(1);
        shuffled.rotate_left(usize::try_from(seed).unwrap_or(0) % n);
        shuffled.reverse();
        let again = decide(&Inputs { candidates: &shuffled, ..inputs });
        prop_assert_eq!(&again, &d);

        // Exactly one explained step applies, and it is the deciding rule.
        let steps = explain(&inputs);
        prop_assert_eq!(steps.len(), Rule::ORDER.len());
        let applying: Vec<Rule> = steps.iter().filter(|s| s.applies).map(|s| s.rule).collect();
        prop_assert_eq!(applying, vec![d.reason.rule]);
    }

    #[test]
    fn precedence_is_a_total_order(groups in candidates()) {
        let mut sorted = groups.clone();
        sorted.sort_by(precedence);
        for pair in sorted.windows(2) {
            prop_assert!(precedence(&pair[0], &pair[1]) != Ordering::Greater);
        }
        prop_assert_eq!(sorted.first(), winner(&groups));
    }
}
