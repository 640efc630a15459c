using System.Reflection;
using System.Text.RegularExpressions;
using FsCheck.Xunit;

namespace LstmKernels.Tests;

/// <summary>
/// The ledger of docs/kernels.md, enforced: every public kernel of <see cref="Kernels"/> has an FsCheck property
/// <c>X_MatchesReference</c> in the test class named after its source file (<c>Kernels.Cell.cs</c> →
/// <c>KernelsCellTests</c>), and a BenchmarkDotNet benchmark calling it beside a <c>Baseline = true</c> one calling
/// its twin in the same benchmark file. (TwinTests checks the twins themselves.)
/// </summary>
public sealed partial class KernelLedgerTests
{
    /// <summary>The kernels the ledger lists today; the reflection below must find at least these.</summary>
    private static readonly string[] Known =
    [
        "GateProjection", "Sigmoid", "Tanh", "CellUpdate", "HiddenUpdate", "LstmPointwise", "Linear", "LstmPointwiseTraining",
        "LstmPointwiseBackward", "AccumulateWeightGradient", "AccumulateBiasGradient", "AccumulateInputGradient", "SgdUpdate", "AdamUpdate",
    ];

    public static TheoryData<string> KernelNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string name in PublicKernels())
            {
                data.Add(name);
            }

            return data;
        }
    }

    [Fact]
    public void Ledger_FindsEveryKnownKernel()
    {
        string[] found = PublicKernels();
        foreach (string name in Known)
        {
            Assert.Contains(name, found);
        }
    }

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void Kernel_HasAPropertyTestInTheClassOfItsFile(string name)
    {
        string family = DeclaringFamily(name);
        string className = $"Kernels{family}Tests";
        Type? tests = typeof(KernelLedgerTests).Assembly.GetType($"LstmKernels.Tests.{className}");
        Assert.True(tests is not null, $"Kernels.{name} is declared in Kernels.{family}.cs, so its tests belong in a class {className} (tests/LstmKernels.Tests/Kernels/{className}.cs); there is none.");
        MethodInfo? property = tests.GetMethod($"{name}_MatchesReference", BindingFlags.Public | BindingFlags.Instance);
        Assert.True(property is not null, $"{className} has no {name}_MatchesReference.");
        Assert.True(property.GetCustomAttribute<PropertyAttribute>() is not null, $"{className}.{name}_MatchesReference is not an FsCheck [Property].");
    }

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void Kernel_HasABenchmarkAgainstItsTwin(string name)
    {
        var kernelCall = new Regex($@"(?<![\w.])Kernels\.{name}\(");
        var twinCall = new Regex($@"(?<![\w.])ReferenceKernels\.{name}\(");
        var files = new List<string>();
        foreach (string file in Directory.GetFiles(Path.Combine(PublicApiTests.RepositoryRoot(), "bench", "LstmKernels.Benchmarks"), "*.cs"))
        {
            List<(bool Baseline, string Body)> benchmarks = Benchmarks(File.ReadAllLines(file));
            if (benchmarks.Any(b => !b.Baseline && kernelCall.IsMatch(b.Body)) && benchmarks.Any(b => b.Baseline && twinCall.IsMatch(b.Body)))
            {
                files.Add(Path.GetFileName(file));
            }
        }

        Assert.True(
            files.Count > 0,
            $"No file of bench/LstmKernels.Benchmarks has both a [Benchmark] calling Kernels.{name}( and a [Benchmark(Baseline = true)] calling ReferenceKernels.{name}(.");
    }

    /// <summary>The public static methods of <see cref="Kernels"/> (property getters excluded).</summary>
    private static string[] PublicKernels() =>
        typeof(Kernels).GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly)
            .Where(m => !m.IsSpecialName)
            .Select(m => m.Name)
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToArray();

    /// <summary>The X of the one src/LstmKernels/Kernels/Kernels.X.cs that declares <c>public static void name(</c>.</summary>
    private static string DeclaringFamily(string name)
    {
        string folder = Path.Combine(PublicApiTests.RepositoryRoot(), "src", "LstmKernels", "Kernels");
        string declaration = $"public static void {name}(";
        string[] declaring = Directory.GetFiles(folder, "Kernels.*.cs")
            .Where(f => File.ReadAllText(f).Contains(declaration, StringComparison.Ordinal))
            .ToArray();
        Assert.True(declaring.Length == 1, $"Expected one file in src/LstmKernels/Kernels declaring '{declaration}', found {declaring.Length}.");
        string file = Path.GetFileNameWithoutExtension(declaring[0]);
        return file["Kernels.".Length..];
    }

    /// <summary>
    /// Each method of a benchmark file marked [Benchmark] or [Benchmark(...)]: whether it is the baseline, and its
    /// text from the signature to the end of its body (an expression body ends at its ';', a block at its closing brace).
    /// </summary>
    private static List<(bool Baseline, string Body)> Benchmarks(string[] lines)
    {
        var found = new List<(bool, string)>();
        for (int k = 0; k < lines.Length; k++)
        {
            Match attribute = BenchmarkAttribute().Match(lines[k]);
            if (!attribute.Success)
            {
                continue;
            }

            bool baseline = attribute.Value.Replace(" ", "", StringComparison.Ordinal).Contains("Baseline=true", StringComparison.Ordinal);
            int at = k + 1;
            while (at < lines.Length && lines[at].TrimStart().StartsWith('['))
            {
                at++;
            }

            var body = new List<string>();
            int depth = 0;
            bool opened = false;
            for (; at < lines.Length; at++)
            {
                string line = lines[at];
                body.Add(line);
                depth += line.Count(ch => ch == '{') - line.Count(ch => ch == '}');
                opened |= line.Contains('{', StringComparison.Ordinal);
                if ((opened && depth <= 0) || (!opened && line.TrimEnd().EndsWith(';')))
                {
                    break;
                }
            }

            found.Add((baseline, string.Join('\n', body)));
        }

        return found;
    }

    [GeneratedRegex(@"^\s*\[Benchmark(\([^)]*\))?\]")]
    private static partial Regex BenchmarkAttribute();
}
