using System.Text.RegularExpressions;

namespace LstmKernels.Tests;

/// <summary>
/// The arrows of docs/architecture.md point one way: kernels ← cell ← layers ← interop / training, the SIMD substrate
/// (Internal/) under everything, and no production code calls a reference twin. Checked on the source: every type
/// declared in a folder is looked up, outside comments and string literals, in the files of the folders below it.
/// </summary>
public sealed partial class ArchitectureTests
{
    /// <summary>Each folder of src/LstmKernels and the folders whose types it must not use.</summary>
    private static readonly (string Folder, string[] Forbidden)[] Rules =
    [
        ("Internal", ["Kernels", "Cell", "Layers", "Serving", "Interop", "Training", "Reference", "."]),
        ("Kernels", ["Cell", "Layers", "Serving", "Interop", "Training", "Reference"]),
        (".", ["Cell", "Layers", "Serving", "Interop", "Training", "Reference"]),
        ("Cell", ["Layers", "Serving", "Interop", "Training", "Reference"]),
        ("Layers", ["Serving", "Interop", "Training", "Reference"]),
        ("Serving", ["Interop", "Training", "Reference"]),
        ("Interop", ["Serving", "Training", "Reference"]),
        ("Training", ["Serving", "Interop", "Reference"]),
        ("Reference", ["Cell", "Serving", "Interop", "Training"]),
    ];

    /// <summary>
    /// The one exception to the rules above, type by type: training uses <c>FloatTensor</c>, the interop layer's named
    /// tensor, for <c>LstmStackParameters.FromStateDict</c> / <c>ToStateDict</c> (a state_dict in and out, in PyTorch's
    /// names); nothing else of Interop/ (no reader, no writer), and Interop/ never uses Training/.
    /// </summary>
    private static readonly (string Folder, string Other, string[] Types)[] Allowed =
    [
        ("Training", "Interop", ["FloatTensor"]),
    ];

    /// <summary>The engine of the layers, which the reference twins must not run (they may share its argument checks).</summary>
    private static readonly string[] EngineTypes = ["Lstm", "LstmSession", "LayerEngine", "UnfusedStep", "LstmCell"];

    [Fact]
    public void Arrows_PointOneWay()
    {
        string src = Path.Combine(PublicApiTests.RepositoryRoot(), "src", "LstmKernels");
        Dictionary<string, HashSet<string>> declared = Rules.ToDictionary(r => r.Folder, r => TypesIn(src, r.Folder));
        var violations = new List<string>();
        foreach ((string folder, string[] forbidden) in Rules)
        {
            foreach (string file in FilesIn(src, folder))
            {
                string code = StripCommentsAndStrings(File.ReadAllText(file));
                foreach (string other in forbidden)
                {
                    string[] allowed = Allowed.Where(a => a.Folder == folder && a.Other == other).SelectMany(a => a.Types).ToArray();
                    foreach (string type in declared[other].Where(t => !allowed.Contains(t)))
                    {
                        if (Regex.IsMatch(code, $@"(?<![\w.]){Regex.Escape(type)}\b"))
                        {
                            violations.Add($"{Path.GetRelativePath(src, file)} uses {type} of {other}/");
                        }
                    }
                }

                if (folder == "Reference")
                {
                    violations.AddRange(EngineTypes.Where(t => Regex.IsMatch(code, $@"(?<![\w.]){t}\b")).Select(t => $"{Path.GetRelativePath(src, file)} runs the engine type {t}"));
                }
            }
        }

        Assert.True(violations.Count == 0, "arrows that run back up:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void Arrows_TheCheckFindsAnUpwardReference()
    {
        // The scanner itself: a use of a layer type from a kernel file, in code, must be seen; in a comment or string, not.
        Assert.Matches($@"(?<![\w.])LstmCell\b", StripCommentsAndStrings("var c = new LstmCell(p); // LstmSession"));
        Assert.DoesNotMatch($@"(?<![\w.])LstmSession\b", StripCommentsAndStrings("var c = new LstmCell(p); // LstmSession\nstring s = \"LstmSession\";"));
        Assert.Contains("LstmCell", TypesIn(Path.Combine(PublicApiTests.RepositoryRoot(), "src", "LstmKernels"), "Cell"));
    }

    /// <summary>No file in src/ is over 400 lines unless its header says why (a line containing "single-minded").</summary>
    [Fact]
    public void SourceFiles_StayUnder400Lines()
    {
        string src = Path.Combine(PublicApiTests.RepositoryRoot(), "src", "LstmKernels");
        var long_ = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (File: f, Lines: File.ReadAllLines(f)))
            .Where(f => f.Lines.Length > 400 && !f.Lines.Take(30).Any(l => l.Contains("single-minded", StringComparison.Ordinal)))
            .Select(f => $"{Path.GetRelativePath(src, f.File)} ({f.Lines.Length} lines)")
            .ToList();
        Assert.True(long_.Count == 0, "files over 400 lines without a header saying why: " + string.Join(", ", long_));
    }

    private static IEnumerable<string> FilesIn(string src, string folder) =>
        folder == "."
            ? Directory.EnumerateFiles(src, "*.cs", SearchOption.TopDirectoryOnly)
            : Directory.EnumerateFiles(Path.Combine(src, folder), "*.cs", SearchOption.AllDirectories);

    private static HashSet<string> TypesIn(string src, string folder)
    {
        var types = new HashSet<string>(StringComparer.Ordinal);
        foreach (string file in FilesIn(src, folder))
        {
            foreach (Match m in TypeDeclaration().Matches(StripCommentsAndStrings(File.ReadAllText(file))))
            {
                types.Add(m.Groups[1].Value);
            }
        }

        return types;
    }

    private static string StripCommentsAndStrings(string code)
    {
        code = BlockComment().Replace(code, " ");
        code = StringLiteral().Replace(code, "\"\"");
        return LineComment().Replace(code, "");
    }

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record)\s+(?:class\s+|struct\s+)?([A-Z]\w*)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex BlockComment();

    [GeneratedRegex(@"\$?@?""(?:[^""\\\n]|\\.)*""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"//[^\n]*")]
    private static partial Regex LineComment();
}
