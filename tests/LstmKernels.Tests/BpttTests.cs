using FsCheck.Xunit;
using LstmKernels.Reference;
using LstmKernels.Training;
using Xunit.Abstractions;

namespace LstmKernels.Tests;

/// <summary>
/// LstmBptt and TruncatedBptt (Training/) against ReferenceLstmCell.BackwardSequence: every gradient (weights, bias,
/// inputs, h0, c0), accumulation, truncation, bad input and zero allocation of a whole training step.
/// </summary>
[Properties(Arbitrary = [typeof(Generators), typeof(BackwardGenerators)], MaxTest = 60)]
public sealed class BpttTests(ITestOutputHelper output)
{
    [Property]
    public void LstmBptt_MatchesReference(BpttCase t) => CompareWithReference(t);

    [Theory]
    [InlineData(3, 5, 1, 8)]
    [InlineData(17, 33, 5, 4)]
    [InlineData(16, 16, 4, 6)]
    [InlineData(1, 1, 1, 1)]
    [InlineData(33, 31, 2, 8)]
    public void LstmBptt_MatchesReference_FixedShapes(int input, int hidden, int batch, int steps)
    {
        double worst = CompareWithReference(new BpttCase(input, hidden, batch, steps, (input * 100) + hidden));
        output.WriteLine($"I={input} H={hidden} B={batch} T={steps} path={Kernels.ActivePath}: max error / ((1 + T)·max|ref|) = {worst:E2}");
    }

    /// <summary>Outputs of the training forward are those of the reference forward (and so of LstmCell).</summary>
    [Fact]
    public void LstmBptt_ForwardMatchesReference()
    {
        var t = new BpttCase(7, 9, 3, 6, 5);
        LstmParameters p = t.Parameters();
        var bptt = new LstmBptt(p, t.Batch, 10);
        float[] x = t.Inputs(), h0 = t.H0(), c0 = t.C0();
        float[] outputs = new float[t.Steps * t.Batch * t.Hidden];
        bptt.Forward(x, h0, c0, outputs);
        Check.BitwiseEqual(outputs, bptt.Y, "Outputs property");
        var reference = new ReferenceLstmCell(p);
        double[] h = Doubles(h0), c = Doubles(c0);
        int states = t.Batch * t.Hidden;
        for (int s = 0; s < t.Steps; s++)
        {
            reference.Forward(Doubles(x.AsSpan(s * t.Batch * t.Input, t.Batch * t.Input).ToArray()), h, c, h, c);
            for (int k = 0; k < states; k++)
            {
                Check.Near(h[k], outputs[(s * states) + k], Tolerances.SequenceFactor(s + 1) * Tolerances.CellH, $"step {s} h", k);
            }
        }

        for (int k = 0; k < states; k++)
        {
            Check.Near(c[k], bptt.CellState[k], Tolerances.SequenceFactor(t.Steps) * Tolerances.CellC(c[k]), "final c", k);
        }
    }

    /// <summary>
    /// Empty initial states are zeros in training as in inference (docs/errors.md): <see cref="LstmBptt.Forward"/> with
    /// empty h0 and c0 gives bitwise the outputs, states and gradients of explicit zeros, and so does the reference's
    /// <see cref="ReferenceLstmCell.BackwardSequence"/> with an empty c0 (and empty dh0, dc0 skip those outputs).
    /// </summary>
    [Fact]
    public void LstmBptt_EmptyInitialStates_AreZeros()
    {
        var t = new BpttCase(5, 7, 3, 4, 11);
        LstmParameters p = t.Parameters();
        int states = t.Batch * t.Hidden;
        float[] x = t.Inputs(), dOut = t.DOutputs(), zeros = new float[states];

        var explicitZeros = new LstmBptt(p, t.Batch, t.Steps);
        float[] y1 = new float[dOut.Length], dx1 = new float[x.Length], dh1 = new float[states], dc1 = new float[states];
        var g1 = new LstmParameters(t.Input, t.Hidden);
        explicitZeros.Forward(x, zeros, zeros, y1);
        explicitZeros.Backward(dOut, default, default, g1, dx1, dh1, dc1);

        var empty = new LstmBptt(p, t.Batch, t.Steps);
        float[] y2 = new float[dOut.Length], dx2 = new float[x.Length], dh2 = new float[states], dc2 = new float[states];
        var g2 = new LstmParameters(t.Input, t.Hidden);
        empty.Forward(x, default, default, y2);
        empty.Backward(dOut, default, default, g2, dx2, dh2, dc2);

        Check.BitwiseEqual(y1, y2, "y");
        Check.BitwiseEqual(explicitZeros.CellState, empty.CellState, "cT");
        Check.BitwiseEqual(g1.WeightIh, g2.WeightIh, "WeightIh gradient");
        Check.BitwiseEqual(g1.WeightHh, g2.WeightHh, "WeightHh gradient");
        Check.BitwiseEqual(g1.Bias, g2.Bias, "Bias gradient");
        Check.BitwiseEqual(dx1, dx2, "dX");
        Check.BitwiseEqual(dh1, dh2, "dh0");
        Check.BitwiseEqual(dc1, dc2, "dc0");

        var reference = new ReferenceLstmCell(p);
        var r1 = new ReferenceLstmGradients(t.Input, t.Hidden);
        var r2 = new ReferenceLstmGradients(t.Input, t.Hidden);
        double[] rdh1 = new double[states], rdc1 = new double[states];
        reference.BackwardSequence(Doubles(x), new double[states], new double[states], Doubles(dOut), default, default, r1, default, rdh1, rdc1);
        reference.BackwardSequence(Doubles(x), new double[states], default, Doubles(dOut), default, default, r2, default, default, default);
        Assert.Equal(r1.WeightIh.ToArray(), r2.WeightIh.ToArray());
        Assert.Equal(r1.WeightHh.ToArray(), r2.WeightHh.ToArray());
        Assert.Equal(r1.Bias.ToArray(), r2.Bias.ToArray());
    }

    /// <summary>
    /// A layer without a bias (<c>bias: false</c>, nn.LSTM(bias=False)): the forward pass and the weight gradients are
    /// bitwise those of a zero bias, the bias gradient is left untouched, and SGD with momentum and Adam keep the bias at
    /// exactly zero; TruncatedBptt likewise; a nonzero bias is refused.
    /// </summary>
    [Fact]
    public void LstmBptt_WithoutBias_KeepsItZero()
    {
        var t = new BpttCase(4, 5, 2, 3, 12);
        LstmParameters p = t.Parameters();
        Check.Throws<ArgumentException>("parameters", () => _ = new LstmBptt(p, t.Batch, t.Steps, bias: false));
        Check.Throws<ArgumentException>("parameters", () => _ = new TruncatedBptt(p, t.Batch, t.Steps, bias: false));
        p.Bias.Clear();
        var withZero = new LstmBptt(p, t.Batch, t.Steps);
        var without = new LstmBptt(p, t.Batch, t.Steps, bias: false);
        Assert.False(without.HasBias);
        float[] x = t.Inputs(), dOut = t.DOutputs(), y1 = new float[dOut.Length], y2 = new float[dOut.Length];
        var g1 = new LstmParameters(t.Input, t.Hidden);
        var g2 = new LstmParameters(t.Input, t.Hidden);
        float[] sentinels = Generators.Fill(g2.Bias.Length, Dist.Unit, 77);
        sentinels.CopyTo(g2.Bias); // nonzero, so that "untouched" can fail (Backward accumulates: a written bias gradient would change them)
        withZero.Forward(x, default, default, y1);
        without.Forward(x, default, default, y2);
        withZero.Backward(dOut, default, default, g1, default, default, default);
        without.Backward(dOut, default, default, g2, default, default, default);
        Check.BitwiseEqual(y1, y2, "y");
        Check.BitwiseEqual(g1.WeightIh, g2.WeightIh, "WeightIh gradient");
        Check.BitwiseEqual(g1.WeightHh, g2.WeightHh, "WeightHh gradient");
        Check.BitwiseEqual(sentinels, g2.Bias, "bias gradient (the sentinels survive)");
        Assert.Contains(g1.Bias.ToArray(), v => v != 0f); // with a bias, the same call does write a bias gradient

        var sgd = new SgdOptimizer(p, 0.1f, 0.9f);
        LstmParameters q = p.Clone();
        var adam = new AdamOptimizer(q, 0.01f);
        var tbptt = new TruncatedBptt(q, t.Batch, t.Steps, bias: false);
        Assert.False(tbptt.HasBias);
        var g3 = new LstmParameters(t.Input, t.Hidden);
        for (int step = 0; step < 5; step++)
        {
            Gradients.Clear(g2);
            without.Forward(x, default, default, default);
            without.Backward(dOut, default, default, g2, default, default, default);
            sgd.Update(g2);
            Gradients.Clear(g3);
            tbptt.Forward(x, default);
            tbptt.Backward(dOut, g3);
            adam.Update(g3);
        }

        Assert.All(p.Bias.ToArray(), v => Assert.Equal(0f, v));
        Assert.All(q.Bias.ToArray(), v => Assert.Equal(0f, v));
        Assert.NotEqual(0f, p.WeightHh[0]);
    }

    /// <summary>Gradients accumulate: two backward passes give twice the gradient (up to float rounding of the sum).</summary>
    [Fact]
    public void LstmBptt_AccumulatesGradients()
    {
        var t = new BpttCase(5, 6, 2, 4, 3);
        LstmParameters p = t.Parameters();
        var bptt = new LstmBptt(p, t.Batch, t.Steps);
        bptt.Forward(t.Inputs(), t.H0(), t.C0(), default);
        var once = new LstmParameters(t.Input, t.Hidden);
        bptt.Backward(t.DOutputs(), default, default, once, default, default, default);
        var twice = new LstmParameters(t.Input, t.Hidden);
        bptt.Backward(t.DOutputs(), default, default, twice, default, default, default);
        bptt.Backward(t.DOutputs(), default, default, twice, default, default, default);
        // Summing into a nonzero gradient rounds differently from summing into zero: compare to the tensor's scale.
        double scaleHh = once.WeightHh.ToArray().Max(Math.Abs), scaleB = once.Bias.ToArray().Max(Math.Abs);
        for (int k = 0; k < once.WeightHh.Length; k++)
        {
            Check.Near(2.0 * once.WeightHh[k], twice.WeightHh[k], 1e-6 * scaleHh, "WeightHh after two passes", k);
        }

        for (int k = 0; k < once.Bias.Length; k++)
        {
            Check.Near(2.0 * once.Bias[k], twice.Bias[k], 1e-6 * scaleB, "Bias after two passes", k);
        }
    }

    /// <summary>
    /// TruncatedBptt over a stream of 3 windows of k steps: the carried state is the full forward's, and the gradient
    /// is the sum over windows of the reference BPTT of each window alone from its carried start state (no gradient
    /// crosses a window boundary).
    /// </summary>
    [Theory]
    [InlineData(3, 5, 2, 4)]
    [InlineData(1, 17, 1, 3)]
    public void TruncatedBptt_MatchesReferencePerWindow(int input, int hidden, int batch, int window)
    {
        const int Windows = 3;
        LstmParameters p = LstmParameters.CreateRandom(input, hidden, 21);
        var tbptt = new TruncatedBptt(p, batch, window);
        var gradient = new LstmParameters(input, hidden);
        var reference = new ReferenceLstmCell(p);
        var refGradient = new ReferenceLstmGradients(input, hidden);
        int states = batch * hidden;
        double[] h = new double[states], c = new double[states];
        for (int w = 0; w < Windows; w++)
        {
            float[] x = Generators.Fill(window * batch * input, Dist.Unit, 10 + w);
            float[] dOut = Generators.Fill(window * batch * hidden, Dist.Unit, 20 + w);
            tbptt.Forward(x, default);
            tbptt.Backward(dOut, gradient);

            double[] xd = Doubles(x);
            reference.BackwardSequence(xd, h, c, Doubles(dOut), default, default, refGradient, default, new double[states], new double[states]);
            for (int s = 0; s < window; s++)
            {
                reference.Forward(xd.AsSpan(s * batch * input, batch * input), h, c, h, c);
            }

            double factor = Tolerances.SequenceFactor((w + 1) * window);
            for (int k = 0; k < states; k++)
            {
                Check.Near(h[k], tbptt.HiddenState[k], factor * Tolerances.CellH, $"window {w} carried h", k);
                Check.Near(c[k], tbptt.CellState[k], factor * Tolerances.CellC(c[k]), $"window {w} carried c", k);
            }
        }

        AssertTensor(refGradient.WeightIh, gradient.WeightIh, Windows * window, "WeightIh");
        AssertTensor(refGradient.WeightHh, gradient.WeightHh, Windows * window, "WeightHh");
        AssertTensor(refGradient.Bias, gradient.Bias, Windows * window, "Bias");

        tbptt.Reset();
        Assert.All(tbptt.HiddenState.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void LstmBptt_Throws()
    {
        var p = LstmParameters.CreateRandom(3, 4, 1);
        Assert.Throws<ArgumentNullException>(() => new LstmBptt(null!, 1, 1));
        Check.Throws<ArgumentOutOfRangeException>("batchSize", () => _ = new LstmBptt(p, 0, 1));
        Check.Throws<ArgumentOutOfRangeException>("maxSteps", () => _ = new LstmBptt(p, 1, 0));
        var bptt = new LstmBptt(p, 2, 3);
        float[] s = new float[8];
        Check.Throws<ArgumentException>("x", () => bptt.Forward(new float[7], s, s, default));
        Check.Throws<ArgumentException>("x", () => bptt.Forward(new float[24], s, s, default));
        Check.Throws<ArgumentException>("h0", () => bptt.Forward(new float[6], new float[4], s, default));
        Check.Throws<ArgumentException>("y", () => bptt.Forward(new float[6], s, s, new float[7]));
        bptt.Forward(new float[12], s, s, default);
        var g = new LstmParameters(3, 4);
        Check.Throws<ArgumentException>("dY", () => bptt.Backward(new float[8], default, default, g, default, default, default));
        Check.Throws<ArgumentException>("gradient", () => bptt.Backward(new float[16], default, default, new LstmParameters(4, 4), default, default, default));
        Check.Throws<ArgumentException>("dX", () => bptt.Backward(new float[16], default, default, g, new float[11], default, default));
        Check.Throws<ArgumentException>("dcT", () => bptt.Backward(new float[16], default, new float[3], g, default, default, default));
    }

    /// <summary>
    /// A whole training step after warm-up: forward over T steps, loss gradient, BPTT, clipping, optimizer; for SGD with
    /// momentum and for Adam, and a truncated-BPTT window: 0 bytes.
    /// </summary>
    [Fact]
    public void TrainingStep_DoesNotAllocate()
    {
        const int I = 12, H = 20, B = 3, T = 7;
        LstmParameters p = LstmParameters.CreateRandom(I, H, 5);
        var gradient = new LstmParameters(I, H);
        var bptt = new LstmBptt(p, B, T);
        var tbptt = new TruncatedBptt(p, B, T);
        var adam = new AdamOptimizer(p, 1e-3f);
        var sgd = new SgdOptimizer(p, 1e-3f, 0.9f);
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 1), h0 = new float[B * H], c0 = new float[B * H];
        float[] outputs = new float[T * B * H], dOut = new float[T * B * H], dx = new float[T * B * I], dh0 = new float[B * H], dc0 = new float[B * H];
        float[] extra = new float[5];
        long bytes = Allocation.Measure(
            () =>
            {
                Gradients.Clear(gradient);
                bptt.Forward(x, h0, c0, outputs);
                for (int k = 0; k < outputs.Length; k++)
                {
                    dOut[k] = outputs[k] - 0.5f;
                }

                bptt.Backward(dOut, default, default, gradient, dx, dh0, dc0);
                Gradients.ClipByGlobalNorm(gradient, extra, 1f);
                adam.Update(gradient);
                sgd.Update(gradient);
                tbptt.Forward(x, outputs);
                tbptt.Backward(dOut, gradient);
            },
            warmUp: 50,
            iterations: 300);
        Assert.Equal(0, bytes);
    }

    private static double CompareWithReference(BpttCase t)
    {
        LstmParameters p = t.Parameters();
        float[] x = t.Inputs(), h0 = t.H0(), c0 = t.C0(), dOut = t.DOutputs(), dhF = t.DhFinal(), dcF = t.DcFinal();
        int states = t.Batch * t.Hidden;

        // Both start from the same nonzero gradient: the fast path must accumulate, not overwrite.
        var gradient = new LstmParameters(t.Input, t.Hidden);
        var refGradient = new ReferenceLstmGradients(t.Input, t.Hidden);
        float[] initial = Generators.Fill(gradient.WeightHh.Length, Dist.Unit, t.Seed + 7);
        initial.CopyTo(gradient.WeightHh);
        Doubles(initial).CopyTo(refGradient.WeightHh);

        var bptt = new LstmBptt(p, t.Batch, Math.Max(1, t.Steps));
        float[] dx = new float[x.Length], dh0 = new float[states], dc0 = new float[states];
        bptt.Forward(x, h0, c0, default);
        bptt.Backward(dOut, dhF, dcF, gradient, dx, dh0, dc0);

        double[] rdx = new double[x.Length], rdh0 = new double[states], rdc0 = new double[states];
        new ReferenceLstmCell(p).BackwardSequence(Doubles(x), Doubles(h0), Doubles(c0), Doubles(dOut), Doubles(dhF), Doubles(dcF), refGradient, rdx, rdh0, rdc0);

        double worst = 0;
        worst = Math.Max(worst, AssertTensor(refGradient.WeightIh, gradient.WeightIh, t.Steps, "WeightIh"));
        worst = Math.Max(worst, AssertTensor(refGradient.WeightHh, gradient.WeightHh, t.Steps, "WeightHh"));
        worst = Math.Max(worst, AssertTensor(refGradient.Bias, gradient.Bias, t.Steps, "Bias"));
        worst = Math.Max(worst, AssertTensor(rdx, dx, t.Steps, "dInputs"));
        worst = Math.Max(worst, AssertTensor(rdh0, dh0, t.Steps, "dh0"));
        worst = Math.Max(worst, AssertTensor(rdc0, dc0, t.Steps, "dc0"));
        return worst;
    }

    /// <summary>Asserts the BPTT bound for one tensor; returns the error relative to (1 + T)·max|reference|.</summary>
    private static double AssertTensor(ReadOnlySpan<double> reference, ReadOnlySpan<float> got, int steps, string what)
    {
        double scale = 0;
        foreach (double v in reference)
        {
            scale = Math.Max(scale, Math.Abs(v));
        }

        double bound = (Tolerances.BpttRelative * (1 + steps) * scale) + Tolerances.BpttAbsolute;
        double worst = 0;
        for (int k = 0; k < reference.Length; k++)
        {
            Check.Near(reference[k], got[k], bound, what, k);
            worst = Math.Max(worst, Math.Abs(got[k] - reference[k]));
        }

        return scale == 0 ? 0 : worst / ((1 + steps) * scale);
    }

    private static double[] Doubles(float[] values) => Array.ConvertAll(values, v => (double)v);
}
