//! Target lists: static, from a file, or from an HTTP endpoint. A file or URL may hold one
//! `host:port` per line (`#` starts a comment), a JSON list of strings, or Prometheus
//! file/HTTP service-discovery JSON (`[{"targets": ["host:port", ...], "labels": {...}}]`).

use {serde::Deserialize, std::collections::BTreeSet};

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonTargets {
    Plain(Vec<String>),
    Prometheus(Vec<PrometheusGroup>),
}

#[derive(Deserialize)]
struct PrometheusGroup {
    targets: Vec<String>,
}

/// Parses a target list; targets are trimmed, deduplicated and sorted.
pub fn parse_target_list(text: &str) -> Result<Vec<String>, String> {
    let trimmed = text.trim();
    let targets: Vec<String> = if trimmed.starts_with('[') {
        match serde_json::from_str::<JsonTargets>(trimmed)
            .map_err(|error| format!("invalid JSON target list: {error}"))?
        {
            JsonTargets::Plain(targets) => targets,
            JsonTargets::Prometheus(groups) => {
                groups.into_iter().flat_map(|group| group.targets).collect()
            }
        }
    } else {
        trimmed
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .map(str::to_string)
            .collect()
    };
    let mut unique = BTreeSet::new();
    for target in targets {
        let target = target.trim();
        if target.is_empty() {
            continue;
        }
        if target.chars().any(char::is_whitespace) {
            return Err(format!("invalid target `{target}`"));
        }
        unique.insert(target.to_string());
    }
    Ok(unique.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_format() {
        assert_eq!(
            parse_target_list("a:1\n# comment\n\n b:2 # trailing\na:1\n").unwrap(),
            vec!["a:1", "b:2"]
        );
        assert_eq!(
            parse_target_list(r#"["b:2", "a:1"]"#).unwrap(),
            vec!["a:1", "b:2"]
        );
        assert_eq!(
            parse_target_list(
                r#"[{"targets": ["c:3"], "labels": {"x": "y"}}, {"targets": ["a:1"]}]"#
            )
            .unwrap(),
            vec!["a:1", "c:3"]
        );
        assert!(parse_target_list("[nope").is_err());
        assert!(parse_target_list("a b:1").is_err());
        assert!(parse_target_list("").unwrap().is_empty());
    }
}
