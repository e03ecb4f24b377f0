/// The prompt of a shell in a family's namespace says so, as virtualenv's does: `(cluster-proc ID) `
/// before the shell's own prompt, unless `CLUSTER_PROC_DISABLE_PROMPT` is set and not empty.
public enum FamilyPrompt {
    /// The variable that, set and not empty, leaves the prompt alone.
    public static let disableVariable = "CLUSTER_PROC_DISABLE_PROMPT"

    /// The prefix, e.g. `(cluster-proc 18869) `.
    public static func prefix(familyID: String) -> String { "(cluster-proc \(familyID)) " }

    /// The variables to set for the shell, from the environment it would get otherwise.
    ///
    /// `PS1` serves sh, dash, ksh and zsh, which take it from the environment. bash sets its own
    /// PS1 in `.bashrc`, so `PROMPT_COMMAND` puts the prefix back before each prompt (once,
    /// after any command of the user's).
    /// - Parameters:
    ///   - familyID: the family the shell is in.
    ///   - environment: the shell's environment as it stands.
    ///   - isRoot: whether the shell runs as root (`# ` rather than `$ ` by default).
    /// - Returns: the variables and values to set; empty when the user opted out.
    public static func variables(familyID: String, environment: [String: String], isRoot: Bool) -> [String: String] {
        if let disabled = environment[disableVariable], !disabled.isEmpty { return [:] }
        let prefix = prefix(familyID: familyID)
        let prompt = environment["PS1"].flatMap { $0.isEmpty ? nil : $0 } ?? (isRoot ? "# " : "$ ")
        // The prefix as a single-quoted shell word: a family id is digits, but say it safely.
        let quoted = "'" + prefix.replacingAll("'", with: "'\\''") + "'"
        var command = "__cluster_proc_prompt=\(quoted); PS1=\"$__cluster_proc_prompt${PS1#\"$__cluster_proc_prompt\"}\""
        if let existing = environment["PROMPT_COMMAND"], !existing.isEmpty { command = existing + "\n" + command }
        return [
            "PS1": prompt.hasPrefix(prefix) ? prompt : prefix + prompt,
            "PROMPT_COMMAND": command,
        ]
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
