using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>One generated Lstm configuration and its data seeds.</summary>
public sealed record LayerCase(
    int Input, int Hidden, int Layers, int Batch, int Steps, LstmDirection Direction, bool BatchFirst, bool Lengths, bool Initial,
    bool Peepholes, float? Clip, bool InputForget, LstmActivation Gate, LstmActivation Cell, LstmActivation Hidden2, int Seed);

/// <summary>
/// Lstm (Lstm.cs: fused and unfused routes, layers, directions, batch-first, lengths) against its twin ReferenceLstm;
/// Kernels.Linear against its twin; sessions (LstmSession.cs); bad input; allocation.
/// </summary>
[Properties(Arbitrary = [typeof(LstmLayerTests)], MaxTest = 80)]
public sealed class LstmLayerTests
{
    public static Arbitrary<LayerCase> Cases() =>
        Arb.From(
            from input in Gen.OneOf(Gen.Elements(1, 15, 16, 17), Gen.Choose(1, 40))
            from hidden in Gen.OneOf(Gen.Elements(1, 15, 16, 17, 33), Gen.Choose(1, 40))
            from layers in Gen.Choose(1, 3)
            from batch in Gen.Elements(0, 1, 2, 3, 4, 5, 9)
            from steps in Gen.Choose(0, 7)
            from direction in Gen.Elements(LstmDirection.Forward, LstmDirection.Reverse, LstmDirection.Bidirectional)
            from batchFirst in Gen.Elements(false, true)
            from lengths in Gen.Elements(false, true)
            from initial in Gen.Elements(false, true)
            from options in Gen.Choose(0, 3)
            from peepholes in Gen.Elements(false, true)
            from clip in Gen.Elements<float?>(null, 0.5f, 3f)
            from inputForget in Gen.Elements(false, true)
            from acts in Gen.Elements(
                (LstmActivation.Sigmoid, LstmActivation.Tanh, LstmActivation.Tanh),
                (LstmActivation.Tanh, LstmActivation.Sigmoid, LstmActivation.Tanh),
                (LstmActivation.Sigmoid, LstmActivation.Relu, LstmActivation.Sigmoid))
            from seed in Generators.Seed
            select options == 0
                ? new LayerCase(input, hidden, layers, batch, steps, direction, batchFirst, lengths, initial, false, null, false, LstmActivation.Sigmoid, LstmActivation.Tanh, LstmActivation.Tanh, seed)
                : new LayerCase(input, hidden, layers, batch, steps, direction, batchFirst, lengths, initial, peepholes, clip, inputForget, acts.Item1, acts.Item2, acts.Item3, seed));

    [Property]
    public void Lstm_MatchesReference(LayerCase t)
    {
        (Lstm lstm, ReferenceLstm reference, Inputs data) = Build(t);
        Outputs ours = Run(lstm.Forward, t, data, lstm.OutputSize);
        Outputs twin = Run(reference.Forward, t, data, lstm.OutputSize);
        Compare(twin, ours, t.Steps, t.Layers, t.ToString());
    }

    /// <summary>The fused route and the unfused route (forced by a clip no value reaches) give the same sequence.</summary>
    [Property(MaxTest = 40)]
    public void Lstm_FusedMatchesUnfused(LayerCase t)
    {
        t = t with { Peepholes = false, Clip = null, InputForget = false, Gate = LstmActivation.Sigmoid, Cell = LstmActivation.Tanh, Hidden2 = LstmActivation.Tanh };
        (Lstm lstm, _, Inputs data) = Build(t);
        Assert.True(lstm.Engine.IsFused);
        var unfused = Lstm.Create(Cells(lstm), lstm.Options with { Clip = 1e30f });
        Assert.False(unfused.Engine.IsFused);
        Compare(Run(unfused.Forward, t, data, lstm.OutputSize), Run(lstm.Forward, t, data, lstm.OutputSize), t.Steps, t.Layers, t.ToString());
    }

    /// <summary>Rows with lengths: y is exactly zero past each length; a row of length L gives what the same row alone of T = L gives.</summary>
    [Fact]
    public void Lstm_SequenceLengths_PadWithZerosAndStopUpdating()
    {
        foreach (bool plain in (bool[])[true, false])
        {
            foreach (LstmDirection direction in (LstmDirection[])[LstmDirection.Forward, LstmDirection.Reverse, LstmDirection.Bidirectional])
            {
                const int I = 5, H = 7, B = 4, T = 6;
                var options = new LstmOptions { Direction = direction, Clip = plain ? null : 2f };
                int d = options.Directions;
                var lstm = Lstm.Create(Enumerable.Range(0, 2 * d).Select(k => LstmParameters.CreateRandom(k < d ? I : d * H, H, k)).ToArray(), options);
                float[] x = Generators.Fill(T * B * I, Dist.Unit, 1);
                int[] lengths = [6, 0, 3, 1];
                float[] y = new float[T * B * d * H], hT = new float[2 * d * B * H], cT = new float[2 * d * B * H];
                lstm.Forward(B, x, default, default, y, hT, cT, lengths);
                for (int b = 0; b < B; b++)
                {
                    for (int s = lengths[b]; s < T; s++)
                    {
                        Assert.True(y.AsSpan(((s * B) + b) * d * H, d * H).IndexOfAnyExcept(0f) < 0, $"row {b} step {s} not zero");
                    }

                    // The same row alone, cut to its length.
                    int l = lengths[b];
                    float[] xb = new float[l * I];
                    for (int s = 0; s < l; s++)
                    {
                        x.AsSpan(((s * B) + b) * I, I).CopyTo(xb.AsSpan(s * I));
                    }

                    float[] yb = new float[l * d * H], hb = new float[2 * d * H], cb = new float[2 * d * H];
                    lstm.Forward(1, xb, default, default, yb, hb, cb);
                    for (int s = 0; s < l; s++)
                    {
                        for (int k = 0; k < d * H; k++)
                        {
                            Check.Near(yb[(s * d * H) + k], y[(((s * B) + b) * d * H) + k], 2 * Tolerances.Layer(T, 2, 1), $"{direction} row {b} y[{s}]", k);
                        }
                    }

                    for (int ld = 0; ld < 2 * d; ld++)
                    {
                        for (int j = 0; j < H; j++)
                        {
                            Check.Near(hb[(ld * H) + j], hT[(((ld * B) + b) * H) + j], 2 * Tolerances.Layer(T, 2, 1), $"{direction} row {b} hT[{ld}]", j);
                        }
                    }
                }
            }
        }
    }

    /// <summary>hT and cT may be the very buffers of h0 and c0.</summary>
    [Fact]
    public void Lstm_InPlaceStates()
    {
        foreach (float? clip in (float?[])[null, 1f])
        {
            var lstm = Lstm.Create([LstmParameters.CreateRandom(3, 5, 1), LstmParameters.CreateRandom(3, 5, 2)], new LstmOptions { Direction = LstmDirection.Bidirectional, Clip = clip });
            float[] x = Generators.Fill(4 * 2 * 3, Dist.Unit, 3);
            float[] h0 = Generators.Fill(2 * 2 * 5, Dist.Unit, 4), c0 = Generators.Fill(2 * 2 * 5, Dist.Unit, 5);
            float[] hSep = new float[h0.Length], cSep = new float[c0.Length], y1 = new float[4 * 2 * 10], y2 = new float[y1.Length];
            lstm.Forward(2, x, h0, c0, y1, hSep, cSep, [4, 2]);
            float[] h = (float[])h0.Clone(), c = (float[])c0.Clone();
            lstm.Forward(2, x, h, c, y2, h, c, [4, 2]);
            Check.BitwiseEqual(hSep, h, "hT in place");
            Check.BitwiseEqual(cSep, c, "cT in place");
            Check.BitwiseEqual(y1, y2, "y with states in place");
        }
    }

    [Fact]
    public void Lstm_Throws()
    {
        LstmParameters p = LstmParameters.CreateRandom(3, 4, 1);
        var lstm = Lstm.Create([p]);
        float[] x = new float[2 * 3 * 2], s = new float[8], y = new float[2 * 2 * 4];
        Check.Throws<ArgumentNullException>("cells", () => _ = Lstm.Create((IReadOnlyList<LstmParameters>)null!));
        Check.Throws<ArgumentException>("cells", () => _ = Lstm.Create(Array.Empty<LstmParameters>()));
        Check.Throws<ArgumentException>("cells", () => _ = Lstm.Create([p], new LstmOptions { Direction = LstmDirection.Bidirectional }));
        Check.Throws<ArgumentException>("cells", () => _ = Lstm.Create([p, p]));
        Check.Throws<ArgumentException>("options", () => _ = Lstm.Create([p], new LstmOptions { Clip = -1 }));
        Check.Throws<ArgumentException>("options", () => _ = Lstm.Create([p], new LstmOptions { Clip = float.NaN }));
        LstmParameters nanPeepholes = Peep.With(p, new float[12]);
        nanPeepholes.Peepholes[3] = float.NaN;
        Check.Throws<ArgumentException>("cells", () => _ = Lstm.Create([nanPeepholes]));
        Check.Throws<ArgumentException>("parameters", () => _ = new LstmCell(Peep.With(p, new float[12])));
        Check.Throws<ArgumentOutOfRangeException>("batchSize", () => lstm.Forward(-1, x, default, default, y, s, s));
        Check.Throws<ArgumentException>("x", () => lstm.Forward(2, new float[7], default, default, default, default, default));
        Check.Throws<ArgumentException>("h0", () => lstm.Forward(2, x, new float[7], default, y, default, default));
        Check.Throws<ArgumentException>("y", () => lstm.Forward(2, x, default, default, new float[5], default, default));
        Check.Throws<ArgumentException>("sequenceLengths", () => lstm.Forward(2, x, default, default, y, default, default, [1]));
        Check.Throws<ArgumentException>("sequenceLengths", () => lstm.Forward(2, x, default, default, y, default, default, [1, 3]));
        Check.Throws<ArgumentException>("sequenceLengths", () => lstm.Forward(2, x, default, default, y, default, default, [-1, 1]));
        float[] big = new float[32];
        Check.Throws<ArgumentException>("y", () => lstm.Forward(2, x, big.AsSpan(0, 8), default, big.AsSpan(4, 16), default, default));
        Check.Throws<ArgumentException>("hT", () => lstm.Forward(2, x, big.AsSpan(0, 8), default, default, big.AsSpan(1, 8), default));
        Check.Throws<ArgumentOutOfRangeException>("layer", () => lstm.GetParameters(1, 0));
        Check.Throws<ArgumentOutOfRangeException>("direction", () => lstm.GetParameters(0, 1));
    }

    /// <summary>After warm-up, Forward allocates nothing, on the fused and the unfused route.</summary>
    [Fact]
    public void Lstm_DoesNotAllocate()
    {
        foreach (LstmOptions options in (LstmOptions[])[new() { Direction = LstmDirection.Bidirectional }, new() { Direction = LstmDirection.Bidirectional, BatchFirst = true, Clip = 3, InputForget = true }])
        {
            var lstm = Lstm.Create([LstmParameters.CreateRandom(6, 9, 1), LstmParameters.CreateRandom(6, 9, 2), LstmParameters.CreateRandom(18, 9, 3), LstmParameters.CreateRandom(18, 9, 4)], options);
            float[] x = Generators.Fill(5 * 3 * 6, Dist.Unit, 1), y = new float[5 * 3 * 18], h = new float[4 * 3 * 9], c = new float[4 * 3 * 9];
            int[] lengths = [5, 2, 4];
            long bytes = Allocation.Measure(() => lstm.Forward(3, x, h, c, y, h, c, lengths), warmUp: 50, iterations: 300);
            Assert.Equal(0, bytes);
        }
    }

    // ---------------------------------------------------------------- LstmSession

    /// <summary>Stepping a session T times gives Forward's sequence; Reset starts over.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LstmSession_MatchesForward(bool options)
    {
        const int I = 5, H = 17, B = 3, T = 6;
        LstmParameters[] cells = [LstmParameters.CreateRandom(I, H, 1), LstmParameters.CreateRandom(H, H, 2)];
        if (options)
        {
            cells = [Peep.With(cells[0], Generators.Fill(3 * H, Dist.Unit, 7)), Peep.With(cells[1], Generators.Fill(3 * H, Dist.Unit, 8))];
        }

        var lstm = Lstm.Create(cells, options ? new LstmOptions { Clip = 2, InputForget = true } : null);
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 3);
        float[] y = new float[T * B * H], hT = new float[2 * B * H], cT = new float[2 * B * H];
        lstm.Forward(B, x, default, default, y, hT, cT);
        LstmSession session = lstm.CreateSession(B);
        float[] yt = new float[B * H];
        for (int round = 0; round < 2; round++)
        {
            for (int t = 0; t < T; t++)
            {
                session.Step(x.AsSpan(t * B * I, B * I), yt);

                // Both routes share their step code with Lstm.Forward, and a row gets the same bits wherever it sits in
                // a batch; but a sequence may take routes a step does not (the lookahead, int8's separately scaled input
                // and recurrent halves), so this checks the bound, not the bits.
                for (int k = 0; k < yt.Length; k++)
                {
                    Check.Near(y[(t * B * H) + k], yt[k], Tolerances.Layer(T, 2, 1), $"session step {t}", k);
                }
            }

            Assert.Equal(T, session.StepCount);
            for (int k = 0; k < hT.Length; k++)
            {
                Check.Near(hT[k], session.HiddenState[k], Tolerances.Layer(T, 2, 1), "session h", k);
                Check.Near(cT[k], session.CellState[k], Tolerances.Layer(T, 2, cT[k]), "session c", k);
            }

            session.Reset();
            Assert.True(session.HiddenState.IndexOfAnyExcept(0f) < 0);
        }
    }

    [Fact]
    public void LstmSession_DoesNotAllocate_AndSessionsAreIndependentAcrossThreads()
    {
        var lstm = Lstm.Create([LstmParameters.CreateRandom(8, 16, 1)]);
        var clipped = Lstm.Create([LstmParameters.CreateRandom(8, 16, 1)], new LstmOptions { Clip = 5 });
        foreach (Lstm l in (Lstm[])[lstm, clipped])
        {
            LstmSession s = l.CreateSession();
            float[] x = Generators.Fill(8, Dist.Unit, 2), y = new float[16];
            Assert.Equal(0, Allocation.Measure(() => s.Step(x, y)));
        }

        // Many sessions over one Lstm on several threads: each equals the same stream run alone.
        float[] xs = Generators.Fill(50 * 8, Dist.Unit, 5);
        LstmSession alone = lstm.CreateSession();
        for (int t = 0; t < 50; t++)
        {
            alone.Step(xs.AsSpan(t * 8, 8), default);
        }

        float[] expected = alone.HiddenState.ToArray();
        Parallel.For(0, 16, _ =>
        {
            LstmSession s = lstm.CreateSession();
            for (int t = 0; t < 50; t++)
            {
                s.Step(xs.AsSpan(t * 8, 8), default);
            }

            Check.BitwiseEqual(expected, s.HiddenState, "thread session h");
        });
    }

    [Fact]
    public void LstmSession_Throws()
    {
        var p = LstmParameters.CreateRandom(3, 4, 1);
        Assert.Throws<NotSupportedException>(() => Lstm.Create([p], new LstmOptions { Direction = LstmDirection.Reverse }).CreateSession());
        Assert.Throws<NotSupportedException>(() => Lstm.Create([p, p], new LstmOptions { Direction = LstmDirection.Bidirectional }).CreateSession());
        Check.Throws<ArgumentOutOfRangeException>("batchSize", () => Lstm.Create([p]).CreateSession(0));
        LstmSession s = Lstm.Create([p]).CreateSession(2);
        Check.Throws<ArgumentException>("x", () => s.Step(new float[3], default));
        Check.Throws<ArgumentException>("y", () => s.Step(new float[6], new float[3]));
        Check.Throws<ArgumentException>("h0", () => s.Reset(new float[3], new float[8]));
    }

    // ---------------------------------------------------------------- helpers

    internal sealed record Inputs(float[] X, float[] H0, float[] C0, int[] Lengths);

    internal sealed record Outputs(float[] Y, float[] H, float[] C);

    internal delegate void ForwardCall(int batch, ReadOnlySpan<float> x, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> y, Span<float> hT, Span<float> cT, ReadOnlySpan<int> lengths);

    private static (Lstm Lstm, ReferenceLstm Reference, Inputs Data) Build(LayerCase t)
    {
        int d = t.Direction == LstmDirection.Bidirectional ? 2 : 1;
        var cells = new LstmParameters[t.Layers * d];
        var peepholes = new float[cells.Length][];
        for (int k = 0; k < cells.Length; k++)
        {
            cells[k] = LstmParameters.CreateRandom(k < d ? t.Input : d * t.Hidden, t.Hidden, t.Seed + k);
            peepholes[k] = Generators.Fill(3 * t.Hidden, Dist.Unit, t.Seed - k);
            if (t.Peepholes)
            {
                cells[k] = Peep.With(cells[k], peepholes[k]);
            }
        }

        var options = new LstmOptions
        {
            Direction = t.Direction,
            BatchFirst = t.BatchFirst,
            Clip = t.Clip,
            InputForget = t.InputForget,
            GateActivation = t.Gate,
            CellActivation = t.Cell,
            HiddenActivation = t.Hidden2,
        };
        int states = t.Layers * d * t.Batch * t.Hidden;
#pragma warning disable CA5394 // Test data.
        var random = new Random(t.Seed);
        int[] lengths = t.Lengths ? Enumerable.Range(0, t.Batch).Select(_ => random.Next(0, t.Steps + 1)).ToArray() : [];
#pragma warning restore CA5394
        var data = new Inputs(
            Generators.Fill(t.Steps * t.Batch * t.Input, Dist.Unit, t.Seed + 100),
            t.Initial ? Generators.Fill(states, Dist.Unit, t.Seed + 101) : [],
            t.Initial ? Generators.Fill(states, Dist.Unit, t.Seed + 102) : [],
            lengths);
        return (Lstm.Create(cells, options), new ReferenceLstm(cells, options), data);
    }

    private static LstmParameters[] Cells(Lstm lstm)
    {
        var cells = new LstmParameters[lstm.Layers * lstm.Directions];
        for (int k = 0; k < cells.Length; k++)
        {
            cells[k] = lstm.GetParameters(k / lstm.Directions, k % lstm.Directions);
        }

        return cells;
    }

    private static Outputs Run(ForwardCall forward, LayerCase t, Inputs data, int outputSize)
    {
        int states = t.Layers * (t.Direction == LstmDirection.Bidirectional ? 2 : 1) * t.Batch * t.Hidden;
        return Run(forward, t.Batch, data, t.Steps * t.Batch * outputSize, states, states);
    }

    /// <summary>One Forward call into sentinel-guarded outputs of the given sizes (h and c differ with projections).</summary>
    internal static Outputs Run(ForwardCall forward, int batch, Inputs data, int ySize, int hSize, int cSize)
    {
        var y = new Guarded(ySize);
        var h = new Guarded(hSize);
        var c = new Guarded(cSize);
        forward(batch, data.X, data.H0, data.C0, y.Span, h.Span, c.Span, data.Lengths);
        y.AssertIntact("y");
        h.AssertIntact("hT");
        c.AssertIntact("cT");
        return new Outputs(y.ToArray(), h.ToArray(), c.ToArray());
    }

    /// <summary>Every output within <see cref="Tolerances.Layer"/>.</summary>
    internal static void Compare(Outputs expected, Outputs got, int steps, int layers, string what)
    {
        for (int k = 0; k < expected.Y.Length; k++)
        {
            Check.Near(expected.Y[k], got.Y[k], Tolerances.Layer(steps, layers, 1), what + " y", k);
        }

        for (int k = 0; k < expected.H.Length; k++)
        {
            Check.Near(expected.H[k], got.H[k], Tolerances.Layer(steps, layers, 1), what + " hT", k);
        }

        for (int k = 0; k < expected.C.Length; k++)
        {
            Check.Near(expected.C[k], got.C[k], Tolerances.Layer(steps, layers, expected.C[k]), what + " cT", k);
        }
    }

    internal static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
