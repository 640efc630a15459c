// Tensor names of the ONNX operator are data here, not member names.
#pragma warning disable CA1507
using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using LstmKernels.Interop;

namespace LstmKernels.Tests;

/// <summary>One generated ONNX LSTM configuration: shapes, direction, layout, lengths, initial state and options.</summary>
public sealed record OnnxConfig(
    int Input, int Hidden, int Batch, int Steps, LstmDirection Direction, int Layout, bool Lengths, bool Initial, bool Bias,
    bool Peepholes, float? Clip, bool InputForget, int Seed);

/// <summary>
/// <see cref="Lstm"/> against ONNX Runtime (Microsoft.ML.OnnxRuntime, CPU, one thread) on one-node LSTM models written
/// by <see cref="OnnxModelWriter"/>, over FsCheck-generated configurations, within 1e-5 absolute (unit-scale weights).
/// ONNX Runtime refuses layout = 1, so layout-1 cases run ONNX Runtime on the transposed (layout 0) model and compare
/// our batch-first result with its outputs transposed.
/// </summary>
[Properties(Arbitrary = [typeof(OnnxRuntimeTests)], MaxTest = 60)]
public sealed class OnnxRuntimeTests
{
    private const double Atol = 1e-5;

    public static Arbitrary<OnnxConfig> Configs() =>
        Arb.From(
            from input in Gen.OneOf(Gen.Elements(1, 3, 16, 17), Gen.Choose(1, 24))
            from hidden in Gen.OneOf(Gen.Elements(1, 2, 15, 16, 17), Gen.Choose(1, 24))
            from batch in Gen.Choose(1, 5)
            from steps in Gen.Choose(1, 6)
            from direction in Gen.Elements(LstmDirection.Forward, LstmDirection.Reverse, LstmDirection.Bidirectional)
            from layout in Gen.Elements(0, 1)
            from lengths in Gen.Elements(false, true)
            from initial in Gen.Elements(false, true)
            from bias in Gen.Elements(false, true)
            from peepholes in Gen.Elements(false, true)
            from clip in Gen.Elements<float?>(null, null, 0.5f, 3f)
            from inputForget in Gen.Elements(false, false, true)
            from seed in Generators.Seed
            select new OnnxConfig(input, hidden, batch, steps, direction, layout, lengths, initial, bias, peepholes, clip, inputForget, seed));

    [Property]
    public void Lstm_MatchesOnnxRuntime(OnnxConfig c) => Compare(c);

    [Fact]
    public void Lstm_MatchesOnnxRuntime_PlainAndLarge()
    {
        // The fused path at a size with full panels and a tail, every direction.
        foreach (LstmDirection direction in (LstmDirection[])[LstmDirection.Forward, LstmDirection.Reverse, LstmDirection.Bidirectional])
        {
            Compare(new OnnxConfig(40, 33, 5, 7, direction, 0, false, true, true, false, null, false, 11));
            Compare(new OnnxConfig(40, 33, 5, 7, direction, 0, true, true, true, false, null, false, 12));
        }
    }

    private static void Compare(OnnxConfig c)
    {
        int d = c.Direction == LstmDirection.Bidirectional ? 2 : 1, h = c.Hidden, b = c.Batch, t = c.Steps, i = c.Input;
#pragma warning disable CA5394 // Test data.
        var random = new Random(c.Seed);
        float[] Unit(int n) => Enumerable.Range(0, n).Select(_ => (float)((2 * random.NextDouble()) - 1)).ToArray();
        float[] x = Unit(t * b * i), w = Unit(d * 4 * h * i), r = Unit(d * 4 * h * h);
        float[] bias = c.Bias ? Unit(d * 8 * h) : [];
        float[] p = c.Peepholes ? Unit(d * 3 * h) : [];
        float[] h0 = c.Initial ? Unit(d * b * h) : [], c0 = c.Initial ? Unit(d * b * h) : [];
        int[] lengths = c.Lengths ? Enumerable.Range(0, b).Select(_ => random.Next(1, t + 1)).ToArray() : [];
#pragma warning restore CA5394

        // ONNX Runtime, always layout 0.
        string direction = c.Direction switch { LstmDirection.Reverse => "reverse", LstmDirection.Bidirectional => "bidirectional", _ => "forward" };
        var attributes = new List<(string, object)> { ("hidden_size", h), ("direction", direction) };
        if (c.Clip is float clip)
        {
            attributes.Add(("clip", clip));
        }

        if (c.InputForget)
        {
            attributes.Add(("input_forget", 1));
        }

        var inputs = new List<(string Name, float[]? F, int[]? I, long[] Shape)>
        {
            ("X", x, null, [t, b, i]), ("W", w, null, [d, 4 * h, i]), ("R", r, null, [d, 4 * h, h]),
        };
        if (c.Bias)
        {
            inputs.Add(("B", bias, null, [d, 8 * h]));
        }

        if (c.Lengths)
        {
            inputs.Add(("sequence_lens", null, lengths, [b]));
        }

        if (c.Initial)
        {
            inputs.Add(("initial_h", h0, null, [d, b, h]));
            inputs.Add(("initial_c", c0, null, [d, b, h]));
        }

        if (c.Peepholes)
        {
            inputs.Add(("P", p, null, [d, 3 * h]));
        }

        string[] positional = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"];
        string[] nodeInputs = positional.Select(n => inputs.Any(v => v.Name == n) ? n : string.Empty).ToArray();
        int lastUsed = Array.FindLastIndex(nodeInputs, n => n.Length > 0);
        byte[] model = OnnxModelWriter.LstmModel(
            nodeInputs[..(lastUsed + 1)],
            inputs.Select(v => new OnnxModelWriter.Input(v.Name, v.F is null ? OnnxModelWriter.Int32 : OnnxModelWriter.Float, v.Shape)).ToArray(),
            [.. attributes]);
        float[] ortY, ortH, ortC;
        using (var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 })
        using (var session = new InferenceSession(model, options))
        {
            var feeds = inputs.Select(v => v.F is not null
                ? NamedOnnxValue.CreateFromTensor(v.Name, new DenseTensor<float>(v.F, v.Shape.Select(s => (int)s).ToArray()))
                : NamedOnnxValue.CreateFromTensor(v.Name, new DenseTensor<int>(v.I!, v.Shape.Select(s => (int)s).ToArray()))).ToList();
            using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(feeds);
            ortY = results.First(o => o.Name == "Y").AsTensor<float>().ToArray();
            ortH = results.First(o => o.Name == "Y_h").AsTensor<float>().ToArray();
            ortC = results.First(o => o.Name == "Y_c").AsTensor<float>().ToArray();
        }

        // Ours, in the generated layout.
        bool layout1 = c.Layout == 1;
        Lstm lstm = OnnxLayout.CreateLstm(h, w, r, bias, p, new LstmOptions { Direction = c.Direction, BatchFirst = layout1, Clip = c.Clip, InputForget = c.InputForget });
        Assert.Equal(!c.Peepholes && c.Clip is null && !c.InputForget, lstm.Engine.IsFused);
        float[] xs = layout1 ? ConformanceTests.OnnxCase.Swap01(x, t, b, i) : x;
        float[] y = new float[t * b * d * h], hT = new float[d * b * h], cT = new float[d * b * h];
        lstm.Forward(b, xs, h0, c0, y, hT, cT, lengths);
        float[] yTimeMajor = layout1 ? ConformanceTests.OnnxCase.Swap01(y, b, t, d * h) : y;
        float[] onnxY = ConformanceTests.OnnxCase.Swap12(yTimeMajor, t, b, d, h);
        string what = string.Create(CultureInfo.InvariantCulture, $"{c}");
        for (int k = 0; k < ortY.Length; k++)
        {
            Check.Near(ortY[k], onnxY[k], Atol, what + " Y", k);
        }

        for (int k = 0; k < ortH.Length; k++)
        {
            Check.Near(ortH[k], hT[k], Atol, what + " Y_h", k);
            Check.Near(ortC[k], cT[k], Atol, what + " Y_c", k);
        }
    }
}
