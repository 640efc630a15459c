using LstmKernels;

namespace LstmService;

/// <summary>The pieces of command-line parsing the service and its load test share.</summary>
public static class CommandLine
{
    /// <summary><c>float32</c> (<c>fp32</c>), <c>bfloat16</c> (<c>bf16</c>) or <c>int8</c>, any case.</summary>
    /// <exception cref="ArgumentException">Anything else.</exception>
    public static WeightPrecision ParsePrecision(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.ToUpperInvariant() switch
        {
            "FLOAT32" or "FP32" => WeightPrecision.Float32,
            "BFLOAT16" or "BF16" => WeightPrecision.BFloat16,
            "INT8" => WeightPrecision.Int8,
            _ => throw new ArgumentException($"--precision takes float32, bfloat16 or int8, not '{text}'."),
        };
    }

    /// <summary>The value after option <c>args[k]</c>; moves <paramref name="k"/> onto it.</summary>
    /// <exception cref="ArgumentException">There is none, or the next argument is another option.</exception>
    public static string Value(IReadOnlyList<string> args, ref int k)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (k + 1 >= args.Count || args[k + 1].StartsWith("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"{args[k]} needs a value.");
        }

        return args[++k];
    }
}
