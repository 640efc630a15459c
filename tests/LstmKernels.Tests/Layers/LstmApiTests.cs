using LstmKernels.Reference;
using LstmKernels.Training;

namespace LstmKernels.Tests;

/// <summary>
/// The API vocabulary of issue 11: the factories, peepholes that travel with the weights, weights held once, and the
/// one-release forwarders of every renamed member (each must give what its replacement gives).
/// </summary>
public sealed class LstmApiTests
{
    private const int I = 5, H = 7, B = 2, T = 4;

    [Fact]
    public void Create_HoldsTheWeightsOnce_AndGivesThemBackExactly()
    {
        LstmParameters[] cells = [LstmParameters.CreateRandom(I, H, 1), LstmParameters.CreateRandom(H, H, 2)];
        var lstm = Lstm.Create(cells);

        // The fused route keeps only the packed cells; the parameters come back out of them, bit for bit.
        Assert.Equal(new LstmCell(cells[0]).PackedBytes + new LstmCell(cells[1]).PackedBytes, lstm.WeightBytes);
        for (int k = 0; k < cells.Length; k++)
        {
            LstmParameters back = lstm.GetParameters(k, 0);
            Check.BitwiseEqual(cells[k].WeightIh, back.WeightIh, $"cell {k} W_ih");
            Check.BitwiseEqual(cells[k].WeightHh, back.WeightHh, $"cell {k} W_hh");
            Check.BitwiseEqual(cells[k].Bias, back.Bias, $"cell {k} bias");
            Assert.False(back.HasPeepholes);
        }

        // The unfused route keeps the parameters (and peepholes) instead: 4 bytes per weight, bias and peephole.
        var unfused = Lstm.Create([Peep.With(cells[0], new float[3 * H])], new LstmOptions { Clip = 5 });
        Assert.Equal(sizeof(float) * ((4L * H * (I + H + 1)) + (3L * H)), unfused.WeightBytes);
    }

    [Fact]
    public void Peepholes_TravelWithTheWeights_AndGiveWhatTheObsoleteOptionGave()
    {
        LstmParameters p = LstmParameters.CreateRandom(I, H, 3);
        float[] peepholes = Generators.Fill(3 * H, Dist.Unit, 4);
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 5);
        float[] viaWeights = new float[T * B * H], viaOptions = new float[T * B * H];
        var lstm = Lstm.Create([Peep.With(p, peepholes)]);
        lstm.Forward(B, x, default, default, viaWeights, default, default);
#pragma warning disable CS0618 // The forwarder under test.
        Lstm.Create([p], new LstmOptions { Peepholes = [peepholes] }).Forward(B, x, default, default, viaOptions, default, default);
        Check.BitwiseEqual(peepholes, lstm.GetPeepholes(0, 0), "GetPeepholes");
        Check.Throws<ArgumentException>("options", () => _ = Lstm.Create([Peep.With(p, peepholes)], new LstmOptions { Peepholes = [peepholes] }));
#pragma warning restore CS0618
        Check.BitwiseEqual(viaOptions, viaWeights, "y");
        Check.BitwiseEqual(peepholes, lstm.GetParameters(0, 0).Peepholes, "GetParameters().Peepholes");

        // The reference twin reads them from the weights too.
        float[] twin = new float[viaWeights.Length];
        new ReferenceLstm([Peep.With(p, peepholes)]).Forward(B, x, default, default, twin, default, default);
        for (int k = 0; k < twin.Length; k++)
        {
            Check.Near(twin[k], viaWeights[k], Tolerances.Layer(T, 1, 1), "twin", k);
        }
    }

    [Fact]
    public void Peepholes_RoundTripThroughOnnx_AndAreRefusedWhereThereIsNoPlaceForThem()
    {
        LstmParameters p = LstmParameters.CreateRandom(I, H, 6);
        float[] w = new float[4 * H * I], r = new float[4 * H * H], b = new float[8 * H], onnxP = Generators.Fill(3 * H, Dist.Unit, 7);
        p.ToOnnx(w, r, b);
        LstmParameters q = LstmParameters.FromOnnx(I, H, w, r, b, onnxP);
        Assert.True(q.HasPeepholes);
        Check.BitwiseEqual(onnxP.AsSpan(0, H), q.Peepholes[..H], "P_i");
        Check.BitwiseEqual(onnxP.AsSpan(2 * H, H), q.Peepholes.Slice(H, H), "P_f (ONNX's third block)");
        Check.BitwiseEqual(onnxP.AsSpan(H, H), q.Peepholes.Slice(2 * H, H), "P_o (ONNX's second block)");
        float[] back = new float[3 * H];
        q.ToOnnx(w, r, b, back);
        Check.BitwiseEqual(onnxP, back, "P round trip");
        p.ToOnnx(w, r, b, back);
        Assert.True(back.AsSpan().IndexOfAnyExcept(0f) < 0, "no peepholes export as zeros");

        Assert.Throws<InvalidOperationException>(() => q.ToOnnx(w, r, b));
        Assert.Throws<InvalidOperationException>(() => q.ToPyTorch(new float[4 * H * I], new float[4 * H * H], new float[4 * H], default));
        Assert.Throws<InvalidOperationException>(() => q.ToKeras(new float[4 * H * I], new float[4 * H * H], new float[4 * H]));
        Check.Throws<ArgumentException>("parameters", () => _ = new LstmCell(q));
        Check.Throws<ArgumentException>("parameters", () => _ = new LstmBptt(q, 1, 1));
        Check.Throws<ArgumentException>("p", () => _ = LstmParameters.FromOnnx(I, H, w, r, b, new float[3 * H - 1]));
        Check.Throws<ArgumentException>("p", () => q.ToOnnx(w, r, b, new float[3 * H - 1]));
        Check.Throws<ArgumentException>("w", () => q.ToOnnx(new float[5], r, b, back));
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => _ = new LstmParameters(I, 0, peepholes: true));
        Check.BitwiseEqual(q.Peepholes, q.Clone().Peepholes, "Clone");
    }

    [Fact]
    public void ObsoleteForwarders_GiveWhatTheirReplacementsGive()
    {
        LstmParameters p = LstmParameters.CreateRandom(I, H, 8);
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 9);
#pragma warning disable CS0618 // The forwarders under test.
        var old = new Lstm([p]);
        var oldProjected = new Lstm([ProjectedLstmParameters.CreateRandom(I, H, 3, 10)]);
        Assert.True(old.IsFused);
        Assert.Equal(3, oldProjected.ProjectionSize);
        float[] yOld = new float[T * B * H], yNew = new float[T * B * H];
        old.Forward(B, x, default, default, yOld, default, default);
        Lstm.Create([p]).Forward(B, x, default, default, yNew, default, default);
        Check.BitwiseEqual(yNew, yOld, "new Lstm vs Lstm.Create");

        LstmSession session = old.CreateSession(B);
        session.Step(x.AsSpan(0, B * I), default);
        Assert.Equal(session.StepCount, session.Steps);
        Assert.True(session.H == session.HiddenState);
        Assert.True(session.C == session.CellState);

        var bptt = new LstmBptt(p, B, T);
        bptt.Forward(x, default, default, default);
        Assert.Equal(bptt.StepCount, bptt.Steps);
        Assert.True(bptt.Outputs == bptt.Y);
        Assert.True(bptt.FinalHidden == bptt.HiddenState);
        Assert.True(bptt.FinalCell == bptt.CellState);

        var truncated = new TruncatedBptt(p, B, T);
        truncated.Forward(x, default);
        Assert.True(truncated.Hidden == truncated.HiddenState);
        Assert.True(truncated.Cell == truncated.CellState);
        Assert.True(truncated.Outputs == truncated.Y);
        truncated.ResetState();
        Assert.True(truncated.HiddenState.IndexOfAnyExcept(0f) < 0 && truncated.CellState.IndexOfAnyExcept(0f) < 0);
#pragma warning restore CS0618
    }

    [Fact]
    public void LstmBptt_EmptyInitialStates_AreZeros()
    {
        LstmParameters p = LstmParameters.CreateRandom(I, H, 11);
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 12);
        var a = new LstmBptt(p, B, T);
        var z = new LstmBptt(p, B, T);
        a.Forward(x, default, default, default);
        z.Forward(x, new float[B * H], new float[B * H], default);
        Check.BitwiseEqual(z.Y, a.Y, "y");
        Check.BitwiseEqual(z.CellState, a.CellState, "c_T");
    }
}
