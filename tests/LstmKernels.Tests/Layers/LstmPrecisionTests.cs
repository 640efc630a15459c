using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>
/// Weight precision and step threads in the layers (issue 13, point 1): every route of Lstm.Forward and LstmSession
/// honours LstmOptions.Precision and StepThreads, or refuses the combination; the effective weights verify the model.
/// </summary>
public sealed class LstmPrecisionTests
{
    // Large enough that StepThreads = 2 takes its two-thread routes: a session step streams B × PackedBytes = 512 KiB
    // (the split step), and a sequence has B·I·H ≥ 8192 (the pipelined projection).
    private const int I = 64, H = 64, B = 4, T = 11;

    public static TheoryData<WeightPrecision, int> Settings => new()
    {
        { WeightPrecision.BFloat16, 1 },
        { WeightPrecision.Int8, 1 },
        { WeightPrecision.Float32, 2 },
        { WeightPrecision.BFloat16, 2 },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void Lstm_ReducedPrecisionAndThreads_MatchTheTwinOfItsEffectiveWeights(WeightPrecision precision, int threads)
    {
        foreach (bool batchFirst in (bool[])[false, true])
        {
            var options = new LstmOptions { Direction = LstmDirection.Bidirectional, BatchFirst = batchFirst, Precision = precision, StepThreads = threads };
            var lstm = Lstm.Create(Cells(2, 2), options);
            var effective = new LstmParameters[4];
            for (int k = 0; k < effective.Length; k++)
            {
                effective[k] = lstm.GetParameters(k / 2, k % 2);
            }

            // The weights really were rounded (bfloat16 keeps 8 bits of mantissa, int8 one scale per unit).
            Assert.Equal(precision != WeightPrecision.Float32, !effective[0].WeightIh.SequenceEqual(Cells(2, 2)[0].WeightIh));
            int[] lengths = [T, 4, 0, T - 1];
            float[] x = Generators.Fill(T * B * I, Dist.Unit, 5);
            float[] y = new float[T * B * 2 * H], yRef = new float[y.Length], hT = new float[4 * B * H], hRef = new float[hT.Length];
            lstm.Forward(B, x, default, default, y, hT, default, lengths);
            new ReferenceLstm(effective, options).Forward(B, x, default, default, yRef, hRef, default, lengths);
            for (int k = 0; k < y.Length; k++)
            {
                Check.Near(yRef[k], y[k], Tolerances.Layer(T, 2, 1), $"{precision}, {threads} thread(s), batch-first {batchFirst}: y", k);
            }

            for (int k = 0; k < hT.Length; k++)
            {
                Check.Near(hRef[k], hT[k], Tolerances.Layer(T, 2, 1), $"{precision}, {threads} thread(s), batch-first {batchFirst}: hT", k);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void LstmSession_HonoursPrecisionAndThreads_AndAllocatesNothing(WeightPrecision precision, int threads)
    {
        var lstm = Lstm.Create(Cells(2, 1), new LstmOptions { Precision = precision, StepThreads = threads });
        Assert.Equal(threads == 2 && precision == WeightPrecision.Float32, lstm.Engine.FusedCell(0)!.UsesParallelStep(B)); // bfloat16 halves the bytes: below the cut-off

        // A session steps each layer's packed cell: the same bits as that cell's own single steps.
        LstmSession session = lstm.CreateSession(B);
        var cells = new[] { new LstmCell(lstm.GetParameters(0, 0)), new LstmCell(lstm.GetParameters(1, 0)) };
        Assert.Equal(lstm.WeightBytes, new LstmCell(Cells(2, 1)[0], precision).PackedBytes + new LstmCell(Cells(2, 1)[1], precision).PackedBytes);
        float[] h = new float[2 * B * H], c = new float[2 * B * H], y = new float[B * H];
        float[] x = Generators.Fill(B * I, Dist.Unit, 7);
        for (int t = 0; t < 3; t++)
        {
            session.Step(x, y);
            cells[0].Forward(x, h.AsSpan(0, B * H), c.AsSpan(0, B * H), h.AsSpan(0, B * H), c.AsSpan(0, B * H));
            cells[1].Forward(h.AsSpan(0, B * H), h.AsSpan(B * H), c.AsSpan(B * H), h.AsSpan(B * H), c.AsSpan(B * H));
        }

        // The float32 cells rebuilt from the effective weights compute what the reduced cells compute, to the cell bound.
        for (int k = 0; k < h.Length; k++)
        {
            Check.Near(h[k], session.HiddenState[k], Tolerances.Layer(3, 2, 1), $"{precision}, {threads}: h", k);
        }

        Assert.Equal(0, Allocation.Measure(() => session.Step(x, y)));
    }

    [Fact]
    public void Lstm_RefusesWhatItsRouteCannotRun()
    {
        LstmParameters[] cells = Cells(1, 1);
        Check.Throws<ArgumentException>("options", () => _ = Lstm.Create(cells, new LstmOptions { Clip = 3, Precision = WeightPrecision.BFloat16 }));
        Check.Throws<ArgumentException>("options", () => _ = Lstm.Create(cells, new LstmOptions { InputForget = true, StepThreads = 2 }));
        Check.Throws<ArgumentException>("options", () => _ = Lstm.Create([Peep.With(cells[0], new float[3 * H])], new LstmOptions { Precision = WeightPrecision.Int8 }));
        Check.Throws<ArgumentException>("options", () => _ = Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(I, H, 5, 1)], new LstmOptions { StepThreads = 2 }));
        Check.Throws<ArgumentException>("options", () => _ = Lstm.Create(cells, new LstmOptions { StepThreads = 3 }));
        Check.Throws<ArgumentException>("options", () => _ = Lstm.Create(cells, new LstmOptions { Precision = (WeightPrecision)7 }));
    }

    private static LstmParameters[] Cells(int layers, int directions)
    {
        var cells = new LstmParameters[layers * directions];
        for (int k = 0; k < cells.Length; k++)
        {
            cells[k] = LstmParameters.CreateRandom(k < directions ? I : directions * H, H, 40 + k);
        }

        return cells;
    }
}
