import DLGSyntax

/// Names a program that writes `.dlg` text (the ONNX importer) must not
/// bind: the keywords, and the built-in functions, which a binding would hide.
public enum ReservedNames {
    public static let keywords: Set<String> = Set(Keyword.allCases.map(\.rawValue))
    public static let builtins: Set<String> = Set(Builtins.table.keys)
    public static var all: Set<String> { keywords.union(builtins) }
}
