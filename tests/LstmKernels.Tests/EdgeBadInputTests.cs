using System.Reflection;
using System.Text;
using LstmKernels.Interop;
using LstmKernels.Reference;
using LstmKernels.Training;

namespace LstmKernels.Tests;

/// <summary>
/// Bad input everywhere: one catalogue of (method, parameter, condition, exception) rows, each run here (exception type
/// and ParamName asserted), which is also the table of docs/errors.md (a test keeps the two the same), and a reflection
/// test that every public method and constructor of the library with a checked argument has at least one row. The
/// kernels' own test classes go deeper per kernel (every length, every overlap); this catalogue covers every method
/// once per kind of mistake, including the ones those classes did not (the Lstm states, sessions, exporters, training
/// types, the reference types and the interop helpers).
/// </summary>
public sealed class EdgeBadInputTests
{
    private const string UpdateVariable = "LSTMKERNELS_UPDATE_ERRORS";
    private const int I = 2;
    private const int H = 3;
    private const int G = 4 * H;

    /// <summary>Public methods whose arguments cannot be wrong (no argument a caller can get wrong, or any value is right).</summary>
    private static readonly string[] ExemptMethods =
    [
        "LstmCell.GetEffectiveParameters", "LstmParameters.Clone", "FloatTensor.ShapeText", "FloatTensor.ToString",
        "AdamOptimizer.Reset", "TruncatedBptt.ResetState", "ReferenceLstmGradients.Clear", "ReferenceLstmCell.ToParameters",
        "LstmSession.Reset", "LstmOptions.Equals", "LstmOptions.GetHashCode", "LstmOptions.ToString", "LstmOptions.<Clone>$",
        "LstmOptions.op_Equality", "LstmOptions.op_Inequality", "LstmOptions..ctor", "IOptimizer.Update",
        "LstmBatcherOptions.Equals", "LstmBatcherOptions.GetHashCode", "LstmBatcherOptions.ToString", "LstmBatcherOptions.<Clone>$",
        "LstmBatcherOptions.op_Equality", "LstmBatcherOptions.op_Inequality", "LstmBatcherOptions..ctor",
    ];

    public static TheoryData<int> RowIndices
    {
        get
        {
            var data = new TheoryData<int>();
            for (int k = 0; k < Rows.Length; k++)
            {
                data.Add(k);
            }

            return data;
        }
    }

    private static Row[] Rows { get; } = BuildRows();

    [Theory]
    [MemberData(nameof(RowIndices))]
    public void Catalogue_EachRowThrowsItsExceptionNamingItsParameter(int index)
    {
        Row row = Rows[index];
        Exception e = Assert.ThrowsAny<Exception>(row.Call);
        Assert.True(e.GetType() == row.Exception, $"{row.Method} ({row.Condition}): threw {e.GetType().Name}, expected {row.Exception.Name}: {e.Message}");
        if (e is ArgumentException a)
        {
            Assert.Equal(row.Param, a.ParamName);
        }

        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void Catalogue_CoversEveryPublicMethodWithArguments()
    {
        var covered = Rows.Select(r => r.Method.Split('(')[0]).ToHashSet(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (Type type in typeof(LstmCell).Assembly.GetExportedTypes())
        {
            foreach (MethodBase m in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Where(m => !m.IsSpecialName || m.Name.StartsWith("op_", StringComparison.Ordinal))
                .Cast<MethodBase>()
                .Concat(type.GetConstructors()))
            {
                string name = type.Name + "." + (m is ConstructorInfo ? "ctor" : m.Name);
                string exempt = type.Name + "." + m.Name;
                // Obsolete forwarders are checked in ObsoleteForwarderTests; the catalogue is the current API.
                if ((m.GetParameters().Length == 0 && m is not ConstructorInfo) || m.IsDefined(typeof(ObsoleteAttribute)))
                {
                    continue;
                }

                if (!covered.Contains(name) && !ExemptMethods.Contains(exempt) && !(type == typeof(ReferenceKernels) && m.Name == "Sigmoid" && m.GetParameters().Length == 1))
                {
                    missing.Add(name);
                }
            }
        }

        Assert.True(missing.Count == 0, "public methods without a bad-input row in EdgeBadInputTests: " + string.Join(", ", missing.Distinct()));
    }

    [Fact]
    public void ErrorsDoc_IsTheCatalogue()
    {
        string path = Path.Combine(PublicApiTests.RepositoryRoot(), "docs", "errors.md");
        string table = Table();
        string doc = File.Exists(path) ? File.ReadAllText(path).ReplaceLineEndings("\n") : "";
        const string Start = "<!-- errors:start -->\n", End = "<!-- errors:end -->";
        int s = doc.IndexOf(Start, StringComparison.Ordinal), e = doc.IndexOf(End, StringComparison.Ordinal);
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1" && s >= 0 && e > s)
        {
            doc = doc[..(s + Start.Length)] + table + doc[e..];
            File.WriteAllText(path, doc);
            e = doc.IndexOf(End, StringComparison.Ordinal);
        }

        Assert.True(s >= 0 && e > s, "docs/errors.md must hold the markers <!-- errors:start --> and <!-- errors:end -->");
        Assert.True(
            doc[(s + Start.Length)..e] == table,
            $"docs/errors.md's table differs from EdgeBadInputTests' catalogue; regenerate it: {UpdateVariable}=1 dotnet test -c Release --filter ErrorsDoc_IsTheCatalogue");
    }

    private static string Table()
    {
        var text = new StringBuilder();
        text.Append("| method | parameter | condition | exception |\n| --- | --- | --- | --- |\n");
        foreach (Row row in Rows)
        {
            text.Append("| `").Append(row.Method).Append("` | `").Append(row.Param ?? "—").Append("` | ").Append(row.Condition).Append(" | `")
                .Append(row.Exception.Name).Append("` |\n");
        }

        return text.ToString();
    }

    private static LstmBatcher Disposed(Lstm lstm)
    {
        var batcher = new LstmBatcher(lstm, 1);
        batcher.Dispose();
        return batcher;
    }

    private static LstmStream Closed(LstmBatcher batcher)
    {
        LstmStream closed = batcher.Open();
        closed.Dispose();
        return closed;
    }

    private static Row[] BuildRows()
    {
        LstmParameters p = LstmParameters.CreateRandom(I, H, 1);
        var cell = new LstmCell(p);
        float[] x = new float[I], s = new float[H], w = new float[G * I], r = new float[G * H], b = new float[G];
        float[] big = new float[64];
        var lstm = Lstm.Create([p]);
        LstmSession session = lstm.CreateSession();
        var batcher = new LstmBatcher(lstm, 4);
        LstmStream stream = batcher.Open();
        var reference = new ReferenceLstmCell(p);
        double[] xd = new double[I], sd = new double[H];
        var gradients = new ReferenceLstmGradients(I, H);
        var bptt = new LstmBptt(p, 1, 2);
        var tbptt = new TruncatedBptt(p, 1, 2);
        var referenceLstm = new ReferenceLstm([p]);
        string missingFile = Path.Combine(Path.GetTempPath(), "lstmkernels-no-such-file.safetensors");
        string missingOnnx = Path.Combine(Path.GetTempPath(), "lstmkernels-no-such-file.onnx");

        return
        [
            // Model: LstmParameters and its importers / exporters.
            new("LstmParameters.ctor", "inputSize", "inputSize < 1", typeof(ArgumentOutOfRangeException), () => _ = new LstmParameters(0, H)),
            new("LstmParameters.ctor", "hiddenSize", "hiddenSize < 1", typeof(ArgumentOutOfRangeException), () => _ = new LstmParameters(I, -1)),
            new("LstmParameters.ctor", "hiddenSize", "4H·(I + H + 1) > Array.MaxLength", typeof(ArgumentOutOfRangeException), () => _ = new LstmParameters(1, 30_000)),
            new("LstmParameters.CreateRandom", "inputSize", "a size < 1", typeof(ArgumentOutOfRangeException), () => LstmParameters.CreateRandom(0, H, 1)),
            new("LstmParameters.FromPyTorch", "weightIh", "length ≠ 4H·I (also null/empty)", typeof(ArgumentException), () => LstmParameters.FromPyTorch(I, H, new float[G * I - 1], r, b, b)),
            new("LstmParameters.FromPyTorch", "weightHh", "NaN or ±∞", typeof(ArgumentException), () => LstmParameters.FromPyTorch(I, H, w, [float.NaN, .. new float[G * H - 1]], b, b)),
            new("LstmParameters.FromPyTorch", "biasHh", "length ≠ 4H and not empty", typeof(ArgumentException), () => LstmParameters.FromPyTorch(I, H, w, r, b, new float[G + 1])),
            new("LstmParameters.FromPyTorch", "biasHh", "biasIh + biasHh overflows", typeof(ArgumentException), () => LstmParameters.FromPyTorch(I, H, w, r, Enumerable.Repeat(float.MaxValue, G).ToArray(), Enumerable.Repeat(float.MaxValue, G).ToArray())),
            new("LstmParameters.FromSeed", "wF", "length ≠ (H + I)·H, or NaN/±∞", typeof(ArgumentException), () => LstmParameters.FromSeed(I, H, new float[3], new float[15], new float[15], new float[15], s, s, s, s)),
            new("LstmParameters.FromSeed", "bO", "length ≠ H, or NaN/±∞", typeof(ArgumentException), () => LstmParameters.FromSeed(I, H, new float[15], new float[15], new float[15], new float[15], s, s, s, [0f, float.PositiveInfinity, 0f])),
            new("LstmParameters.FromOnnx", "r", "length ≠ 4H·H, or NaN/±∞", typeof(ArgumentException), () => LstmParameters.FromOnnx(I, H, w, new float[G * H + 1], default)),
            new("LstmParameters.FromOnnx", "b", "length ≠ 8H and not empty, or a summed bias overflows", typeof(ArgumentException), () => LstmParameters.FromOnnx(I, H, w, r, new float[G])),
            new("LstmParameters.FromKeras", "recurrentKernel", "length ≠ H·4H, or NaN/±∞", typeof(ArgumentException), () => LstmParameters.FromKeras(I, H, w, new float[5], default)),
            new("LstmParameters.FromKeras", "bias", "length ≠ 4H and not empty", typeof(ArgumentException), () => LstmParameters.FromKeras(I, H, w, r, new float[G - 1])),
            new("LstmParameters.ToPyTorch", "weightIh", "length ≠ 4H·I", typeof(ArgumentException), () => p.ToPyTorch(new float[1], r, b, b)),
            new("LstmParameters.ToOnnx", "w", "length ≠ 4H·I", typeof(ArgumentException), () => p.ToOnnx(default, r, new float[2 * G])),
            new("LstmParameters.ToKeras", "kernel", "length ≠ I·4H", typeof(ArgumentException), () => p.ToKeras(new float[G * I + 1], r, b)),
            new("LstmParameters.ToSeed", "wF", "length ≠ (H + I)·H", typeof(ArgumentException), () => p.ToSeed(new float[14], new float[15], new float[15], new float[15], s, s, s, s)),

            // ProjectedLstmParameters (PyTorch's proj_size).
            new("ProjectedLstmParameters.ctor", "projectionSize", "projectionSize < 1 or ≥ hiddenSize (PyTorch: 0 < proj_size < hidden_size)", typeof(ArgumentOutOfRangeException), () => _ = new ProjectedLstmParameters(I, H, H)),
            new("ProjectedLstmParameters.CreateRandom", "inputSize", "a size out of range", typeof(ArgumentOutOfRangeException), () => ProjectedLstmParameters.CreateRandom(0, H, 1, 1)),
            new("ProjectedLstmParameters.FromPyTorch", "weightHh", "length ≠ 4H·P, or NaN/±∞", typeof(ArgumentException), () => ProjectedLstmParameters.FromPyTorch(I, H, 2, w, r, b, b, new float[2 * H])),
            new("ProjectedLstmParameters.FromPyTorch", "weightHr", "length ≠ P·H, or NaN/±∞", typeof(ArgumentException), () => ProjectedLstmParameters.FromPyTorch(I, H, 2, w, new float[G * 2], b, b, new float[2 * H + 1])),
            new("ProjectedLstmParameters.ToPyTorch", "weightHr", "length ≠ P·H (weightIh 4H·I, weightHh 4H·P, biasIh 4H likewise)", typeof(ArgumentException), () => ProjectedLstmParameters.CreateRandom(I, H, 2, 1).ToPyTorch(w, new float[G * 2], b, b, new float[1])),

            // LstmCell.
            new("LstmCell.ctor", "parameters", "null", typeof(ArgumentNullException), () => _ = new LstmCell(null!)),
            new("LstmCell.ctor", "precision", "not a defined WeightPrecision", typeof(ArgumentOutOfRangeException), () => _ = new LstmCell(p, (WeightPrecision)(-1))),
            new("LstmCell.Forward", "x", "length not a multiple of InputSize", typeof(ArgumentException), () => cell.Forward(new float[3], s, s, new float[H], new float[H])),
            new("LstmCell.Forward", "hPrev", "length ≠ B·H (B = x.Length / I; also null/empty)", typeof(ArgumentException), () => cell.Forward(x, default, s, new float[H], new float[H])),
            new("LstmCell.Forward", "cNext", "length ≠ B·H", typeof(ArgumentException), () => cell.Forward(x, s, s, new float[H], new float[H + 1])),
            new("LstmCell.Forward", "hNext", "partial overlap with hPrev (exact aliasing is allowed)", typeof(ArgumentException), () => cell.Forward(x, big.AsSpan(0, H), s, big.AsSpan(1, H), new float[H])),
            new("LstmCell.Forward", "cNext", "overlaps x or hPrev", typeof(ArgumentException), () => cell.Forward(big.AsSpan(0, I), s, s, new float[H], big.AsSpan(1, H))),
            new("LstmCell.ForwardSequence", "h0", "length not a multiple of H", typeof(ArgumentException), () => cell.ForwardSequence(x, new float[H + 1], s, default, s, s)),
            new("LstmCell.ForwardSequence", "x", "length not a multiple of B·I", typeof(ArgumentException), () => cell.ForwardSequence(new float[3], new float[H], s, default, new float[H], new float[H])),
            new("LstmCell.ForwardSequence", "y", "length ≠ T·B·H and not empty", typeof(ArgumentException), () => cell.ForwardSequence(x, new float[H], s, new float[H + 1], new float[H], new float[H])),
            new("LstmCell.ForwardSequence", "cT", "partial overlap with c0", typeof(ArgumentException), () => cell.ForwardSequence(x, new float[H], big.AsSpan(0, H), default, new float[H], big.AsSpan(2, H))),

            // Lstm and LstmSession.
            new("Lstm.Create", "cells", "null", typeof(ArgumentNullException), () => _ = Lstm.Create(null!)),
            new("Lstm.Create", "cells", "a null element", typeof(ArgumentException), () => _ = Lstm.Create([p, null!])),
            new("Lstm.Create", "cells", "count not L·D, or a layer's sizes do not chain (layer l > 0 takes D·H), or peepholes hold NaN or ∞", typeof(ArgumentException), () => _ = Lstm.Create([p, p])),
            new("Lstm.Create", "cells", "a nonzero Bias while options.Bias is false (a model without biases)", typeof(ArgumentException), () => _ = Lstm.Create([p], new LstmOptions { Bias = false })),
            new("Lstm.Create", "options", "Clip ≤ 0 or not finite; Precision undefined; StepThreads not 1 or 2; Precision other than Float32 or StepThreads 2 where the unfused route runs (peepholes, clip, input_forget, activations, projections)", typeof(ArgumentException), () => _ = Lstm.Create([p], new LstmOptions { Clip = 0 })),
            new("Lstm.Forward", "batchSize", "negative", typeof(ArgumentOutOfRangeException), () => lstm.Forward(-1, default, default, default, default, default, default)),
            new("Lstm.Forward", "x", "length not a multiple of B·I (or not empty when B = 0)", typeof(ArgumentException), () => lstm.Forward(0, x, default, default, default, default, default)),
            new("Lstm.Forward", "c0", "length ≠ L·D·B·H and not empty", typeof(ArgumentException), () => lstm.Forward(1, x, default, new float[H - 1], default, default, default)),
            new("Lstm.Forward", "hT", "length ≠ L·D·B·H and not empty", typeof(ArgumentException), () => lstm.Forward(1, x, default, default, default, new float[2 * H], default)),
            new("Lstm.Forward", "cT", "length ≠ L·D·B·H and not empty", typeof(ArgumentException), () => lstm.Forward(1, x, default, default, default, default, new float[1])),
            new("Lstm.Forward", "y", "length ≠ T·B·D·H and not empty", typeof(ArgumentException), () => lstm.Forward(1, x, default, default, new float[H + 1], default, default)),
            new("Lstm.Forward", "sequenceLengths", "length ≠ B and not empty, or a length outside 0..T", typeof(ArgumentException), () => lstm.Forward(1, x, default, default, default, default, default, [2])),
            new("Lstm.Forward", "y", "overlaps x, h0, c0, hT or cT", typeof(ArgumentException), () => lstm.Forward(1, big.AsSpan(0, I), default, default, big.AsSpan(1, H), default, default)),
            new("Lstm.Forward", "cT", "partial overlap with c0, or overlaps x or h0", typeof(ArgumentException), () => lstm.Forward(1, x, default, big.AsSpan(0, H), default, default, big.AsSpan(1, H))),
            new("Lstm.GetParameters", "layer", "outside 0..L−1", typeof(ArgumentOutOfRangeException), () => lstm.GetParameters(-1, 0)),
            new("Lstm.CreateProjected", "cells", "a nonzero Bias while options.Bias is false", typeof(ArgumentException), () => _ = Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(I, H, 2, 1)], new LstmOptions { Bias = false })),
            new("Lstm.CreateProjected", "cells", "sizes do not chain (layer l > 0 takes D·P) or H, P differ", typeof(ArgumentException), () => _ = Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(I, H, 2, 1), ProjectedLstmParameters.CreateRandom(I, H, 1, 2)])),
            new("Lstm.Forward(projected)", "h0", "length ≠ L·D·B·P and not empty (c0, cT stay L·D·B·H)", typeof(ArgumentException), () => Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(I, H, 2, 1)]).Forward(1, x, new float[H], default, default, default, default)),
            new("Lstm.GetProjectedParameters", "layer", "outside 0..L−1", typeof(ArgumentOutOfRangeException), () => Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(I, H, 2, 1)]).GetProjectedParameters(1, 0)),
            new("Lstm.GetProjectedParameters", null, "the LSTM has no projections", typeof(InvalidOperationException), () => lstm.GetProjectedParameters(0, 0)),
            new("Lstm.GetParameters", null, "the LSTM has projections", typeof(InvalidOperationException), () => Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(I, H, 2, 1)]).GetParameters(0, 0)),
            new("Lstm.CreateSession", "batchSize", "< 1", typeof(ArgumentOutOfRangeException), () => lstm.CreateSession(0)),
            new("Lstm.CreateSession", null, "the LSTM is reverse or bidirectional", typeof(NotSupportedException), () => Lstm.Create([p], new LstmOptions { Direction = LstmDirection.Reverse }).CreateSession()),
            new("LstmSession.Step", "x", "length ≠ B·I", typeof(ArgumentException), () => session.Step(new float[I + 1], default)),
            new("LstmSession.Step", "y", "length ≠ B·H and not empty, or overlaps x", typeof(ArgumentException), () => session.Step(big.AsSpan(0, I), big.AsSpan(1, H))),
            new("LstmSession.Reset(h0, c0)", "c0", "length ≠ L·B·H", typeof(ArgumentException), () => session.Reset(new float[H], new float[H - 1])),

            // The stream batcher.
            new("LstmBatcher.ctor", "lstm", "the LSTM is reverse or bidirectional", typeof(ArgumentException), () => _ = new LstmBatcher(Lstm.Create([p], new LstmOptions { Direction = LstmDirection.Reverse }), 4)),
            new("LstmBatcher.ctor", "maxBatch", "< 1", typeof(ArgumentOutOfRangeException), () => _ = new LstmBatcher(lstm, 0)),
            new("LstmBatcher.ctor", "options", "MaxStreams < 1, BatchWait outside 0..10 ms, or IdleTimeout < 4 ms", typeof(ArgumentOutOfRangeException), () => _ = new LstmBatcher(lstm, 4, new LstmBatcherOptions { MaxStreams = 0 })),
            new("LstmBatcher.Open", null, "MaxStreams streams are open", typeof(InvalidOperationException), () => new LstmBatcher(lstm, 1, new LstmBatcherOptions { MaxStreams = 1 }).Open().Batcher.Open()),
            new("LstmBatcher.TryOpen", null, "the batcher is disposed", typeof(ObjectDisposedException), () => Disposed(lstm).TryOpen(out _)),
            new("LstmStream.Step", "x", "length ≠ I", typeof(ArgumentException), () => stream.Step(new float[I + 1], default)),
            new("LstmStream.Step", "y", "length ≠ H and not empty, or overlaps x", typeof(ArgumentException), () => stream.Step(big.AsSpan(0, I), big.AsSpan(1, H))),
            new("LstmStream.Step", null, "the stream, or its batcher, is closed", typeof(ObjectDisposedException), () => Closed(batcher).Step(x, default)),
#pragma warning disable CA2012 // These calls throw before a ValueTask exists.
            new("LstmStream.StepAsync", "x", "length ≠ I", typeof(ArgumentException), () => _ = stream.StepAsync(new float[I + 1], default)),
#pragma warning restore CA2012
            new("LstmStream.CopyState", "c", "length ≠ L·H", typeof(ArgumentException), () => stream.CopyState(new float[H], new float[H + 1])),

            // Kernels (the kernel test classes cover every length and overlap; one row per kind here).
            new("Kernels.Sigmoid", "destination", "length ≠ x.Length, or partial overlap with x", typeof(ArgumentException), () => Kernels.Sigmoid(x, new float[I + 1])),
            new("Kernels.Tanh", "destination", "length ≠ x.Length, or partial overlap with x", typeof(ArgumentException), () => Kernels.Tanh(big.AsSpan(0, 8), big.AsSpan(1, 8))),
            new("Kernels.CellUpdate", "cPrev", "an input's length ≠ forgetGate.Length", typeof(ArgumentException), () => Kernels.CellUpdate(s, x, s, s, new float[H])),
            new("Kernels.CellUpdate", "c", "length ≠ the inputs', or partial overlap with an input", typeof(ArgumentException), () => Kernels.CellUpdate(s, s, s, s, new float[H + 1])),
            new("Kernels.HiddenUpdate", "h", "length ≠ the inputs', or partial overlap", typeof(ArgumentException), () => Kernels.HiddenUpdate(s, s, default)),
            new("Kernels.LstmPointwise", "hiddenSize", "< 1", typeof(ArgumentOutOfRangeException), () => Kernels.LstmPointwise(0, b, s, new float[H], new float[H])),
            new("Kernels.LstmPointwise", "gates", "length not a multiple of 4H", typeof(ArgumentException), () => Kernels.LstmPointwise(H, new float[G + 1], s, new float[H], new float[H])),
            new("Kernels.GateProjection", "weightIh", "length ≠ 4H·I (H from bias, I from x / B)", typeof(ArgumentException), () => Kernels.GateProjection(x, s, new float[3], r, b, new float[G])),
            new("Kernels.GateProjection", "gates", "overlaps an input", typeof(ArgumentException), () => Kernels.GateProjection(x, s, w, r, big.AsSpan(0, G), big.AsSpan(4, G))),
            new("Kernels.Linear", "weight", "length ≠ N·K (N = bias.Length, K = x.Length / B)", typeof(ArgumentException), () => Kernels.Linear(x, new float[G * I + 1], b, new float[G])),
            new("Kernels.Linear", "destination", "bias empty (no bias) and no whole K with x = B·K, weight = N·K, destination = B·N", typeof(ArgumentException), () => Kernels.Linear(x, w, default, new float[G + 1])),
            new("Kernels.LstmPointwiseTraining", "activations", "length ≠ gates.Length", typeof(ArgumentException), () => Kernels.LstmPointwiseTraining(H, b, s, new float[G - 1], new float[H], new float[H])),
            new("Kernels.LstmPointwiseBackward", "dGates", "length ≠ 4·B·H, or overlaps an input", typeof(ArgumentException), () => Kernels.LstmPointwiseBackward(H, b, s, s, s, s, new float[G + 1], new float[H])),
            new("Kernels.AccumulateWeightGradient", "weightGradient", "length ≠ 4H·K, or overlaps an input", typeof(ArgumentException), () => Kernels.AccumulateWeightGradient(H, b, x, new float[3])),
            new("Kernels.AccumulateBiasGradient", "biasGradient", "empty, length does not divide dGates.Length, or overlaps dGates", typeof(ArgumentException), () => Kernels.AccumulateBiasGradient(b, default)),
            new("Kernels.AccumulateInputGradient", "weight", "length not 4H·K with K = inputGradient.Length / B", typeof(ArgumentException), () => Kernels.AccumulateInputGradient(H, b, new float[5], x)),
            new("Kernels.SgdUpdate", "learningRate", "NaN, ±∞ or negative", typeof(ArgumentOutOfRangeException), () => Kernels.SgdUpdate(float.NaN, 0f, s, s, new float[H])),
            new("Kernels.SgdUpdate", "momentum", "outside [0, 1)", typeof(ArgumentOutOfRangeException), () => Kernels.SgdUpdate(0.1f, 1f, s, s, new float[H])),
            new("Kernels.AdamUpdate", "step", "< 1", typeof(ArgumentOutOfRangeException), () => Kernels.AdamUpdate(0.1f, 0.9f, 0.99f, 1e-8f, 0, s, new float[H], new float[H], new float[H])),
            new("Kernels.AdamUpdate", "beta1", "outside [0, 1)", typeof(ArgumentOutOfRangeException), () => Kernels.AdamUpdate(0.1f, 1f, 0.99f, 1e-8f, 1, s, new float[H], new float[H], new float[H])),
            new("Kernels.AdamUpdate", "m", "length ≠ gradient.Length, or overlaps another span", typeof(ArgumentException), () => Kernels.AdamUpdate(0.1f, 0.9f, 0.99f, 1e-8f, 1, s, new float[1], new float[H], new float[H])),

            // Reference twins: the same checks as their kernels, plus the types of their own.
            new("ReferenceKernels.Sigmoid", "destination", "as Kernels.Sigmoid", typeof(ArgumentException), () => ReferenceKernels.Sigmoid(x, default)),
            new("ReferenceKernels.Tanh", "destination", "as Kernels.Tanh", typeof(ArgumentException), () => ReferenceKernels.Tanh(x, new float[1])),
            new("ReferenceKernels.CellUpdate", "c", "as Kernels.CellUpdate", typeof(ArgumentException), () => ReferenceKernels.CellUpdate(s, s, s, s, new float[1])),
            new("ReferenceKernels.HiddenUpdate", "h", "as Kernels.HiddenUpdate", typeof(ArgumentException), () => ReferenceKernels.HiddenUpdate(s, s, new float[1])),
            new("ReferenceKernels.LstmPointwise", "hiddenSize", "as Kernels.LstmPointwise", typeof(ArgumentOutOfRangeException), () => ReferenceKernels.LstmPointwise(-1, b, s, new float[H], new float[H])),
            new("ReferenceKernels.GateProjection", "bias", "as Kernels.GateProjection (bias empty or not a multiple of 4)", typeof(ArgumentException), () => ReferenceKernels.GateProjection(x, s, w, r, new float[G - 1], new float[G])),
            new("ReferenceKernels.Linear", "destination", "as Kernels.Linear", typeof(ArgumentException), () => ReferenceKernels.Linear(x, w, b, new float[G + 1])),
            new("ReferenceKernels.LstmPointwiseTraining", "hiddenSize", "as the kernel", typeof(ArgumentOutOfRangeException), () => ReferenceKernels.LstmPointwiseTraining(0, b, s, new float[G], new float[H], new float[H])),
            new("ReferenceKernels.LstmPointwiseBackward", "dcPrev", "as the kernel", typeof(ArgumentException), () => ReferenceKernels.LstmPointwiseBackward(H, b, s, s, s, s, new float[G], new float[H + 1])),
            new("ReferenceKernels.AccumulateWeightGradient", "input", "as the kernel", typeof(ArgumentException), () => ReferenceKernels.AccumulateWeightGradient(H, b, new float[3], new float[G * I])),
            new("ReferenceKernels.AccumulateBiasGradient", "dGates", "as the kernel", typeof(ArgumentException), () => ReferenceKernels.AccumulateBiasGradient(new float[G + 1], b)),
            new("ReferenceKernels.AccumulateInputGradient", "dGates", "as the kernel", typeof(ArgumentException), () => ReferenceKernels.AccumulateInputGradient(H, new float[G + 1], w, x)),
            new("ReferenceKernels.SgdUpdate", "velocity", "as the kernel", typeof(ArgumentException), () => ReferenceKernels.SgdUpdate(0.1f, 0.5f, s, default, new float[H])),
            new("ReferenceKernels.AdamUpdate", "epsilon", "as the kernel (≤ 0 or not finite)", typeof(ArgumentOutOfRangeException), () => ReferenceKernels.AdamUpdate(0.1f, 0.9f, 0.99f, 0f, 1, s, new float[H], new float[H], new float[H])),
            new("ReferenceLstmCell.ctor", "parameters", "null", typeof(ArgumentNullException), () => _ = new ReferenceLstmCell(null!)),
            new("ReferenceLstmCell.Forward(float)", "cPrev", "length ≠ B·H", typeof(ArgumentException), () => reference.Forward(x, s, new float[H + 1], new float[H], new float[H])),
            new("ReferenceLstmCell.Forward(double)", "x", "length not a multiple of I", typeof(ArgumentException), () => reference.Forward(new double[3], sd, sd, new double[H], new double[H])),
            new("ReferenceLstmCell.Backward", "gradient", "null", typeof(ArgumentNullException), () => reference.Backward(xd, sd, sd, sd, sd, null!, new double[I], new double[H], new double[H])),
            new("ReferenceLstmCell.Backward", "dhPrev", "length ≠ B·H", typeof(ArgumentException), () => reference.Backward(xd, sd, sd, sd, sd, gradients, new double[I], new double[1], new double[H])),
            new("ReferenceLstmCell.BackwardSequence", "x", "length not a multiple of B·I (B from h0)", typeof(ArgumentException), () => reference.BackwardSequence(new double[3], sd, sd, new double[H], default, default, gradients, default, sd, sd)),
            new("ReferenceLstmCell.ApplySgd", "gradient", "sizes differ from the cell's", typeof(ArgumentException), () => reference.ApplySgd(new ReferenceLstmGradients(I + 1, H), 0.1)),
            new("ReferenceLstmGradients.ctor", "inputSize", "< 1", typeof(ArgumentOutOfRangeException), () => _ = new ReferenceLstmGradients(0, H)),
            new("ReferenceLstm.ctor", "cells", "as Lstm", typeof(ArgumentException), () => _ = new ReferenceLstm(Array.Empty<LstmParameters>())),
            new("ReferenceLstm.Forward", "h0", "as Lstm.Forward", typeof(ArgumentException), () => referenceLstm.Forward(1, x, new float[1], default, default, default, default)),

            // Training.
            new("LstmBptt.ctor", "maxSteps", "< 1 (batchSize < 1 likewise; parameters null: ArgumentNullException)", typeof(ArgumentOutOfRangeException), () => _ = new LstmBptt(p, 1, 0)),
            new("LstmBptt.Forward", "x", "longer than MaxSteps steps, or not whole steps of B·I (empty is T = 0)", typeof(ArgumentException), () => bptt.Forward(new float[3 * I], default, default, default)),
            new("LstmBptt.Forward", "c0", "length ≠ B·H and not empty", typeof(ArgumentException), () => bptt.Forward(x, s, new float[1], default)),
            new("LstmBptt.Backward", "gradient", "sizes differ from the parameters'", typeof(ArgumentException), () => RunBackward(bptt, x, new LstmParameters(I + 1, H))),
            new("LstmBptt.ctor(bias)", "parameters", "bias false and parameters.Bias not zero (peepholes likewise)", typeof(ArgumentException), () => _ = new LstmBptt(LstmParameters.CreateRandom(I, H, 1), 1, 1, bias: false)),
            new("TruncatedBptt.ctor(bias)", "parameters", "bias false and parameters.Bias not zero", typeof(ArgumentException), () => _ = new TruncatedBptt(LstmParameters.CreateRandom(I, H, 1), 1, 1, bias: false)),
            new("TruncatedBptt.ctor", "window", "< 1", typeof(ArgumentOutOfRangeException), () => _ = new TruncatedBptt(p, 1, 0)),
            new("TruncatedBptt.ctor", "parameters", "null", typeof(ArgumentNullException), () => _ = new TruncatedBptt(null!, 1, 1)),
            new("TruncatedBptt.Forward", "x", "longer than Window steps, or not whole steps of B·I", typeof(ArgumentException), () => tbptt.Forward(new float[3], default)),
            new("TruncatedBptt.Backward", "gradient", "null", typeof(ArgumentNullException), () => tbptt.Backward(default, null!)),
            new("SgdOptimizer.ctor", "momentum", "outside [0, 1) (learningRate < 0 or not finite likewise)", typeof(ArgumentOutOfRangeException), () => _ = new SgdOptimizer(p, 0.1f, -0.5f)),
            new("SgdOptimizer.Update", "gradient", "sizes differ from the parameters'", typeof(ArgumentException), () => new SgdOptimizer(p, 0.1f).Update(new LstmParameters(I, H + 1))),
            new("AdamOptimizer.ctor", "beta1", "outside [0, 1) (the other hyper-parameters likewise)", typeof(ArgumentOutOfRangeException), () => _ = new AdamOptimizer(p, 1e-3f, 1.5f)),
            new("AdamOptimizer.Update", "gradient", "null", typeof(ArgumentNullException), () => new AdamOptimizer(p).Update((LstmParameters)null!)),
            new("Gradients.Clear", "gradient", "null", typeof(ArgumentNullException), () => Gradients.Clear((LstmParameters)null!)),
            new("Gradients.GlobalNorm", "gradient", "null", typeof(ArgumentNullException), () => Gradients.GlobalNorm((LstmParameters)null!, default)),
            new("Gradients.ClipByGlobalNorm", "maxNorm", "≤ 0 or not finite", typeof(ArgumentOutOfRangeException), () => Gradients.ClipByGlobalNorm(p.Clone(), default, float.PositiveInfinity)),
            new("Gradients.ClipByGlobalNorm(stack)", "maxNorm", "≤ 0 or not finite", typeof(ArgumentOutOfRangeException), () => Gradients.ClipByGlobalNorm(Stack(), default, 0f)),
            new("Gradients.GlobalNorm(stack)", "gradient", "null", typeof(ArgumentNullException), () => Gradients.GlobalNorm((LstmStackParameters)null!, default)),
            new("SgdOptimizer.ctor(stack)", "learningRate", "not finite (momentum outside [0, 1) likewise)", typeof(ArgumentOutOfRangeException), () => _ = new SgdOptimizer(Stack(), float.NaN)),
            new("SgdOptimizer.Update(stack)", "gradient", "another layout (sizes, layers, directions, projections, bias mode)", typeof(ArgumentException), () => new SgdOptimizer(Stack(), 0.1f).Update(Stack(LstmBiasMode.Summed))),
            new("SgdOptimizer.Update(stack)", null, "the optimizer was built for one cell's LstmParameters (call Update(LstmParameters))", typeof(InvalidOperationException), () => new SgdOptimizer(p, 0.1f).Update(Stack())),
            new("SgdOptimizer.Update", null, "the optimizer was built for LstmStackParameters (call Update(LstmStackParameters))", typeof(InvalidOperationException), () => new SgdOptimizer(Stack(), 0.1f).Update(p)),
            new("AdamOptimizer.ctor(stack)", "epsilon", "≤ 0 or not finite (the other hyper-parameters as for LstmParameters)", typeof(ArgumentOutOfRangeException), () => _ = new AdamOptimizer(Stack(), 1e-3f, 0.9f, 0.999f, 0f)),
            new("AdamOptimizer.Update(stack)", "gradient", "another layout", typeof(ArgumentException), () => new AdamOptimizer(Stack()).Update(Stack(LstmBiasMode.None))),
            new("AdamOptimizer.Update(stack)", null, "the optimizer was built for one cell's LstmParameters (call Update(LstmParameters))", typeof(InvalidOperationException), () => new AdamOptimizer(p).Update(Stack())),
            new("AdamOptimizer.Update", null, "the optimizer was built for LstmStackParameters (call Update(LstmStackParameters))", typeof(InvalidOperationException), () => new AdamOptimizer(Stack()).Update(p)),
            new("IOptimizer.Update(stack)", null, "the implementer has only the one-cell overload (the default implementation)", typeof(NotSupportedException), () => ((IOptimizer)new CellOnlyOptimizer()).Update(Stack())),
            new("LstmStackParameters.ctor", "projectionSize", "not 0 and not in 1..H−1 (inputSize, hiddenSize, layers < 1, directions not 1 or 2, biasMode undefined likewise)", typeof(ArgumentOutOfRangeException), () => _ = new LstmStackParameters(I, H, 1, 1, H, LstmBiasMode.Separate)),
            new("LstmStackParameters.ctor(size)", "layers", "so many that the tensors would not fit in one array (hiddenSize when the first layer alone would not); checked before allocating", typeof(ArgumentOutOfRangeException), () => _ = new LstmStackParameters(I, H, int.MaxValue, 2, 0, LstmBiasMode.Separate)),
            new("LstmStackParameters.CreateRandom", "layers", "< 1 (the other sizes and the bias mode as the constructor)", typeof(ArgumentOutOfRangeException), () => LstmStackParameters.CreateRandom(I, H, 0, 1, 0, LstmBiasMode.Separate, 1)),
            new("LstmStackParameters.FromLstm", "biasMode", "disagrees with the model's Options.Bias: not None for a model without biases, None for a model with them", typeof(ArgumentException), () => LstmStackParameters.FromLstm(Lstm.Create([new LstmParameters(I, H)], new LstmOptions { Bias = false }), LstmBiasMode.Summed)),
            new("LstmStackParameters.FromLstm", "lstm", "null (peepholes: ArgumentException)", typeof(ArgumentNullException), () => LstmStackParameters.FromLstm(null!, LstmBiasMode.Summed)),
            new("LstmStackParameters.Tensor", "name", "not one of Names (bias_hh exists only with Separate)", typeof(ArgumentException), () => Stack(LstmBiasMode.Summed).Tensor("bias_hh_l0")),
            new("LstmStackParameters.WeightIh", "layer", "outside 0..L−1 (direction outside 0..D−1 likewise)", typeof(ArgumentOutOfRangeException), () => Stack().WeightIh(1, 0)),
            new("LstmStackParameters.WeightHh", "direction", "outside 0..D−1", typeof(ArgumentOutOfRangeException), () => Stack().WeightHh(0, 1)),
            new("LstmStackParameters.BiasIh", "layer", "outside 0..L−1", typeof(ArgumentOutOfRangeException), () => Stack().BiasIh(-1, 0)),
            new("LstmStackParameters.BiasHh", "layer", "outside 0..L−1", typeof(ArgumentOutOfRangeException), () => Stack().BiasHh(1, 0)),
            new("LstmStackParameters.WeightHr", "direction", "outside 0..D−1", typeof(ArgumentOutOfRangeException), () => Stack().WeightHr(0, 2)),
            new("LstmStackParameters.FromCells", "cells", "not whole layers of D directions with matching sizes, peepholes, or a nonzero bias with biasMode None", typeof(ArgumentException), () => LstmStackParameters.FromCells([p], 1, LstmBiasMode.None)),
            new("LstmStackParameters.FromCells", "directions", "not 1 or 2", typeof(ArgumentOutOfRangeException), () => LstmStackParameters.FromCells([p], 3, LstmBiasMode.Summed)),
            new("LstmStackParameters.FromProjectedCells", "cells", "null", typeof(ArgumentNullException), () => LstmStackParameters.FromProjectedCells(null!, 1, LstmBiasMode.Summed)),
            new("LstmStackParameters.GetParameters", "layer", "outside 0..L−1 (with projections: InvalidOperationException)", typeof(ArgumentOutOfRangeException), () => Stack().GetParameters(1, 0)),
            new("LstmStackParameters.GetProjectedParameters", null, "no projections", typeof(InvalidOperationException), () => Stack().GetProjectedParameters(0, 0)),
            new("LstmStackParameters.ToLstm", "options", "another number of directions, or Bias contradicting BiasMode (true with None, false with Separate or Summed)", typeof(ArgumentException), () => Stack().ToLstm(new LstmOptions { Direction = LstmDirection.Bidirectional })),
            new("LstmStackParameters.FromStateDict", "tensors", "null (prefix likewise)", typeof(ArgumentNullException), () => LstmStackParameters.FromStateDict(null!, "", LstmBiasMode.Separate)),
            new("LstmStackParameters.FromStateDict", "mode", "None while the state_dict holds bias tensors, or Separate or Summed while it holds none (undefined: ArgumentOutOfRangeException)", typeof(ArgumentException), () => LstmStackParameters.FromStateDict(Stack().ToStateDict().ToDictionary(t => t.Name), "", LstmBiasMode.None)),
            new("LstmStackParameters.FromStateDict", null, "a tensor missing (or one bias of a cell), of a wrong shape (weight_hr [P, H] with 0 < P < H), or holding NaN or ∞", typeof(InvalidDataException), () => LstmStackParameters.FromStateDict(new Dictionary<string, FloatTensor>(), "", LstmBiasMode.Separate)),
            new("LstmStackParameters.ToStateDict", "prefix", "null", typeof(ArgumentNullException), () => Stack().ToStateDict(null!)),
            new("LstmTrainer.ctor", "options", "another number of directions than the parameters, or clip, input_forget, other activations, peepholes or reduced precision", typeof(ArgumentException), () => _ = new LstmTrainer(Stack(), new LstmOptions { InputForget = true }, 1, 1)),
            new("LstmTrainer.ctor(bias)", "options", "options.Bias false with parameters that have bias tensors (not LstmBiasMode.None)", typeof(ArgumentException), () => _ = new LstmTrainer(Stack(), new LstmOptions { Bias = false }, 1, 1)),
            new("LstmTrainer.ctor(bias)", "options", "options.Bias true (the default, null options too) with LstmBiasMode.None parameters", typeof(ArgumentException), () => _ = new LstmTrainer(Stack(LstmBiasMode.None), null, 1, 1)),
            new("LstmTrainer.ctor", "maxSteps", "< 1 (batchSize < 1 likewise; parameters null: ArgumentNullException)", typeof(ArgumentOutOfRangeException), () => _ = new LstmTrainer(Stack(), null, 1, 0)),
            new("LstmTrainer.Forward", "x", "longer than MaxSteps steps, or not whole steps of B·I", typeof(ArgumentException), () => new LstmTrainer(Stack(), null, 1, 1).Forward(new float[2 * I], default, default, default, default, default)),
            new("LstmTrainer.Forward", "h0", "length ≠ L·D·B·S and not empty (c0, hT, cT, y likewise)", typeof(ArgumentException), () => new LstmTrainer(Stack(), null, 1, 1).Forward(new float[I], new float[1], default, default, default, default)),
            new("LstmTrainer.Forward", "sequenceLengths", "length ≠ B and not empty, or a length outside 0..T", typeof(ArgumentException), () => new LstmTrainer(Stack(), null, 1, 1).Forward(new float[I], default, default, default, default, default, [2])),
            new("LstmTrainer.Forward", "y", "overlaps x, h0, c0, hT or cT (hT, cT may be exactly h0, c0)", typeof(ArgumentException), () => OverlappingTrainerOutput()),
            new("LstmTrainer.Backward", "gradient", "another layout than Parameters, or Parameters itself (null: ArgumentNullException)", typeof(ArgumentException), () => new LstmTrainer(Stack(), null, 1, 1).Backward(default, default, default, Stack(LstmBiasMode.None), default, default, default)),
            new("LstmTrainer.Backward", "dY", "length ≠ T·B·D·S of the last Forward and not empty (dhT, dcT, dX, dh0, dc0 likewise)", typeof(ArgumentException), () => new LstmTrainer(Stack(), null, 1, 1).Backward(new float[1], default, default, Stack(), default, default, default)),
            new("LstmTrainer.Backward", "dh0", "partial overlap with dhT, or overlaps another argument (dc0 likewise)", typeof(ArgumentException), () => OverlappingTrainerGradient()),

            // Interop.
            new("FloatTensor.ctor", "name", "null", typeof(ArgumentNullException), () => _ = new FloatTensor(null!, [1], [1f])),
            new("FloatTensor.ctor", "shape", "a negative dimension", typeof(ArgumentException), () => _ = new FloatTensor("t", [-1], default)),
            new("FloatTensor.ctor", "data", "length ≠ the product of shape", typeof(ArgumentException), () => _ = new FloatTensor("t", [2, 3], new float[5])),
            new("OnnxLayout.PeepholesFromOnnx", "destination", "length ≠ p.Length, or overlaps p", typeof(ArgumentException), () => OnnxLayout.PeepholesFromOnnx(new float[6], new float[3])),
            new("OnnxLayout.PeepholesToOnnx", "peepholes", "length not a multiple of 3", typeof(ArgumentException), () => OnnxLayout.PeepholesToOnnx(new float[4], new float[4])),
            new("OnnxLayout.CreateLstm", "hiddenSize", "< 1", typeof(ArgumentOutOfRangeException), () => OnnxLayout.CreateLstm(0, w, r, default, default)),
            new("OnnxLayout.CreateLstm", "w", "empty or not whole [D, 4H, I]", typeof(ArgumentException), () => OnnxLayout.CreateLstm(H, new float[5], r, default, default)),
            new("OnnxLayout.CreateLstm", "p", "not empty and not [D, 3H]", typeof(ArgumentException), () => OnnxLayout.CreateLstm(H, w, r, default, new float[5])),
            new("OnnxLayout.CreateLstm", "options", "Bias false while b is given", typeof(ArgumentException), () => OnnxLayout.CreateLstm(H, w, r, new float[8 * H], default, new LstmOptions { Bias = false })),
            new("PyTorchStateDict.CreateLstm", "tensors", "null", typeof(ArgumentNullException), () => PyTorchStateDict.CreateLstm(null!)),
            new("PyTorchStateDict.CreateLstm(options)", "options", "a direction other than the tensors' (Reverse for a bidirectional state_dict), or options the weights cannot run with", typeof(ArgumentException), () => PyTorchStateDict.CreateLstm(PyTorchStateDict.FromLstm(Lstm.Create([p, p], new LstmOptions { Direction = LstmDirection.Bidirectional })).ToDictionary(t => t.Name), "", new LstmOptions { Direction = LstmDirection.Reverse })),
            new("PyTorchStateDict.CreateLstm(options)", "options", "Bias false while the state_dict holds bias tensors", typeof(ArgumentException), () => PyTorchStateDict.CreateLstm(PyTorchStateDict.FromLstm(Lstm.Create([p])).ToDictionary(t => t.Name), "", new LstmOptions { Bias = false })),
            new("PyTorchStateDict.CreateLstm", null, "a weight missing or of a wrong shape (weight_hr [P, H] with proj_size), or 0 < P < H broken", typeof(InvalidDataException), () => PyTorchStateDict.CreateLstm(new Dictionary<string, FloatTensor>())),
            new("PyTorchStateDict.FromLstm", "lstm", "null", typeof(ArgumentNullException), () => PyTorchStateDict.FromLstm(null!)),
            new("PyTorchStateDict.FromLstm", "lstm", "options PyTorch's nn.LSTM does not have (peepholes, clip, …)", typeof(ArgumentException), () => PyTorchStateDict.FromLstm(Lstm.Create([p], new LstmOptions { Clip = 1f }))),
            new("SafetensorsFile.Read", null, "not valid safetensors (truncated, bad header, sizes beyond the file, …)", typeof(InvalidDataException), () => SafetensorsFile.Read(new byte[5])),
            new("SafetensorsFile.ReadFile", null, "the file does not exist", typeof(FileNotFoundException), () => SafetensorsFile.ReadFile(missingFile)),
            new("SafetensorsFile.Write", "tensors", "null", typeof(ArgumentNullException), () => SafetensorsFile.Write(null!)),
            new("SafetensorsFile.Write", "tensors", "two tensors share a name", typeof(ArgumentException), () => SafetensorsFile.Write([new FloatTensor("a", [1], [1f]), new FloatTensor("a", [1], [2f])])),
            new("PyTorchFile.Read", null, "not a torch.save archive of a state_dict (a global off the allow-list, an opcode a state_dict does not need, a damaged zip, a view outside its storage, a repeated key, more views and names than the memory budget of the file’s length, …)", typeof(InvalidDataException), () => PyTorchFile.Read(new byte[5])),
            new("PyTorchFile.ReadFile", null, "the file does not exist", typeof(FileNotFoundException), () => PyTorchFile.ReadFile(missingFile)),
            new("NpyFile.Read", null, "not a valid .npy of a float dtype", typeof(InvalidDataException), () => NpyFile.Read(new byte[9])),
            new("NpyFile.Write", "tensor", "null", typeof(ArgumentNullException), () => NpyFile.Write(null!)),
            new("NpzFile.Read", null, "not a valid .npz of float arrays, or over maxUncompressedBytes", typeof(InvalidDataException), () => NpzFile.Read(new byte[9])),
            new("NpzFile.Write", "tensors", "null", typeof(ArgumentNullException), () => NpzFile.Write(null!)),
            new("OnnxFile.ReadLstm", "path", "null", typeof(ArgumentNullException), () => OnnxFile.ReadLstm((string)null!)),
            new("OnnxFile.ReadLstm", null, "the file does not exist", typeof(FileNotFoundException), () => OnnxFile.ReadLstm(missingOnnx)),
            new("OnnxFile.ReadLstm(bytes)", null, "not an ONNX model of LSTM nodes the reader understands (the message names the node and its op), or external data without the model's folder", typeof(InvalidDataException), () => OnnxFile.ReadLstm(new byte[] { 0x0A, 0x05 })),
            new("OnnxFile.ReadLstm", "options", "sets more than Precision and StepThreads, or cannot run the model (a reduced precision with peepholes, clip, …)", typeof(ArgumentException), () => OnnxFile.ReadLstm(OnnxFile.Write(lstm), new LstmOptions { Clip = 1f })),
            new("OnnxFile.Write", "lstm", "null", typeof(ArgumentNullException), () => OnnxFile.Write(null!)),
            new("OnnxFile.Write", "lstm", "the LSTM has projections (proj_size)", typeof(ArgumentException), () => OnnxFile.Write(Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(I, H, 2, 1)]))),
            new("OnnxFile.WriteFile", "path", "null", typeof(ArgumentNullException), () => OnnxFile.WriteFile(lstm, null!)),
        ];
    }

    /// <summary>A one-layer, one-direction stack of I inputs and H units.</summary>
    private static LstmStackParameters Stack(LstmBiasMode mode = LstmBiasMode.Separate) => new(I, H, 1, 1, 0, mode);

    private static void OverlappingTrainerOutput()
    {
        float[] buffer = new float[4 * H];
        new LstmTrainer(Stack(), null, 1, 2).Forward(buffer.AsSpan(0, 2 * I), default, default, buffer.AsSpan(1, 2 * H), default, default);
    }

    private static void OverlappingTrainerGradient()
    {
        float[] buffer = new float[2 * H];
        new LstmTrainer(Stack(), null, 1, 1).Backward(default, buffer.AsSpan(0, H), default, Stack(), default, buffer.AsSpan(1, H), default);
    }

    private static void RunBackward(LstmBptt bptt, float[] x, LstmParameters gradient)
    {
        bptt.Forward(x, new float[H], new float[H], default);
        bptt.Backward(new float[H], default, default, gradient, default, default, default);
    }

    private sealed record Row(string Method, string? Param, string Condition, Type Exception, Action Call);

    /// <summary>An optimizer written before stacks could be trained: only the one-cell overload.</summary>
    private sealed class CellOnlyOptimizer : IOptimizer
    {
        public void Update(LstmParameters gradient)
        {
        }
    }
}
