//! Checks of the binaries' command lines.

/// The arguments of `command` and all its subcommands that do not say what they do, or that
/// take an optional value without a default and do not say what happens without it.
pub fn undocumented_flags(command: &clap::Command) -> Vec<String> {
    let mut command = command.clone();
    command.build();
    let mut commands = vec![&command];
    let mut missing = Vec::new();
    while let Some(command) = commands.pop() {
        commands.extend(command.get_subcommands());
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            let help = arg
                .get_long_help()
                .or(arg.get_help())
                .map(ToString::to_string)
                .unwrap_or_default();
            let name = format!("{} --{id}", command.get_name());
            if help.trim().is_empty() {
                missing.push(format!("{name}: no description"));
                continue;
            }
            let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
            let optional = !arg.is_required_set() && !arg.is_positional();
            let lower = help.to_lowercase();
            if takes_value
                && optional
                && arg.get_default_values().is_empty()
                && !lower.contains("default")
                && !lower.contains("required")
                && !lower.contains("repeatable")
            {
                missing.push(format!("{name}: no default named in `{help}`"));
            }
        }
    }
    missing
}
