using LstmKernels.Training;
using Xunit.Abstractions;

namespace LstmKernels.Tests;

/// <summary>
/// LstmTrainer (Training/) against PyTorch's autograd (the JSON fixtures of Fixtures/training/, made by
/// make_fixtures.py in float64): outputs, final states and every gradient of a 2-layer bidirectional batch-first LSTM
/// with per-row lengths, of one with proj_size and of one without biases; 20-step SGD-with-momentum and Adam
/// trajectories with clipping in PyTorch's two-bias parameterisation. Also: the one-layer case against LstmBptt,
/// bias modes, zero allocation of a whole training step, bad input.
/// </summary>
public sealed class LstmTrainerTests(ITestOutputHelper output)
{
    /// <summary>
    /// Float32 against float64 autograd from the same float32 values: every tensor within
    /// 2e-5·max|expected tensor| + 1e-6. The errors are float rounding through at most T = 6 steps and 2 layers
    /// (measured worst about 1e-6 relative; the bound leaves room for the scalar and Vector128 paths).
    /// </summary>
    private const double FixtureRelative = 2e-5;
    private const double FixtureAbsolute = 1e-6;

    /// <summary>The issue's bound for 20 optimizer steps: 1e-4 relative to each tensor's largest value (losses and norms: to the value).</summary>
    private const double TrajectoryRelative = 1e-4;

    public static TheoryData<string, LstmBiasMode> GradientCases => new()
    {
        { "grad_bidir2_lengths.json", LstmBiasMode.Separate },
        { "grad_bidir2_lengths.json", LstmBiasMode.Summed },
        { "grad_proj_lengths.json", LstmBiasMode.Separate },
        { "grad_proj_lengths.json", LstmBiasMode.Summed },
        { "grad_nobias.json", LstmBiasMode.None },
    };

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void LstmTrainer_GradientsMatchPyTorch(string file, LstmBiasMode mode)
    {
        TrainingFixture f = TrainingFixture.Load(file);
        LstmStackParameters p = f.CreateParameters(mode);
        var trainer = new LstmTrainer(p, f.Options, f.Batch, f.Steps);
        float[] x = f.Floats("x"), h0 = f.Floats("h0"), c0 = f.Floats("c0");
        float[] y = new float[f.Doubles("y").Length], hT = new float[h0.Length], cT = new float[c0.Length];
        trainer.Forward(x, h0, c0, y, hT, cT, f.Lengths);
        double worst = 0;
        worst = Math.Max(worst, AssertClose(f.Doubles("y"), y, "y"));
        worst = Math.Max(worst, AssertClose(f.Doubles("hT"), hT, "hT"));
        worst = Math.Max(worst, AssertClose(f.Doubles("cT"), cT, "cT"));

        LstmStackParameters gradient = p.CreateGradient();
        float[] dX = new float[x.Length], dh0 = new float[h0.Length], dc0 = new float[c0.Length];
        trainer.Backward(f.Floats("dY"), f.Floats("dhT"), f.Floats("dcT"), gradient, dX, dh0, dc0);
        foreach (string name in f.Names)
        {
            double[] expected = f.Tensor("gradients", name);
            if (name.StartsWith("bias_hh", StringComparison.Ordinal) && mode != LstmBiasMode.Separate)
            {
                // Summed: one tensor whose gradient is ∂L/∂b, which PyTorch gives to both of its biases.
                Assert.True(gradient.BiasHh(0, 0).IsEmpty);
                continue;
            }

            worst = Math.Max(worst, AssertClose(expected, gradient.Tensor(name), name));
        }

        worst = Math.Max(worst, AssertClose(f.Doubles("dX"), dX, "dX"));
        worst = Math.Max(worst, AssertClose(f.Doubles("dh0"), dh0, "dh0"));
        worst = Math.Max(worst, AssertClose(f.Doubles("dc0"), dc0, "dc0"));
        output.WriteLine($"{file} {mode} path={Kernels.ActivePath}: worst error / max|tensor| = {worst:E2}");
    }

    /// <summary>
    /// 20 steps of SGD with momentum 0.9 (or Adam) with clip_grad_norm_ at 0.5 on a 2-layer bidirectional batch-first
    /// LSTM with per-row lengths, in PyTorch's parameterisation (both biases trained): every step's loss and gradient
    /// norm and every final tensor within 1e-4 relative of PyTorch's. In the summed mode the same script moves the
    /// biases half as far per SGD step (Adam: by one step instead of two), and the final biases miss PyTorch's by far
    /// more than the bound: the test tells the two parameterisations apart.
    /// </summary>
    [Theory]
    [InlineData("traj_sgd.json")]
    [InlineData("traj_adam.json")]
    public void LstmTrainer_TrajectoryMatchesPyTorch(string file)
    {
        TrainingFixture f = TrainingFixture.Load(file);
        (double[] losses, double[] norms, LstmStackParameters p) = RunTrajectory(f, LstmBiasMode.Separate);
        double[] expectedLosses = f.Doubles("losses"), expectedNorms = f.Doubles("norms");
        double worst = 0;
        for (int step = 0; step < expectedLosses.Length; step++)
        {
            Check.Near(expectedLosses[step], (float)losses[step], TrajectoryRelative * Math.Abs(expectedLosses[step]), "loss", step);
            Check.Near(expectedNorms[step], (float)norms[step], TrajectoryRelative * Math.Abs(expectedNorms[step]), "norm", step);
            worst = Math.Max(worst, Math.Abs(losses[step] - expectedLosses[step]) / Math.Abs(expectedLosses[step]));
        }

        foreach (string name in f.Names)
        {
            worst = Math.Max(worst, AssertClose(f.Tensor("final", name), p.Tensor(name), name, TrajectoryRelative, 0));
        }

        output.WriteLine($"{file} path={Kernels.ActivePath}: worst relative error over 20 steps = {worst:E2}");

        (_, _, LstmStackParameters summed) = RunTrajectory(f, LstmBiasMode.Summed);
        double[] ih = f.Tensor("final", "bias_ih_l0"), hh = f.Tensor("final", "bias_hh_l0");
        double miss = 0, scale = 0;
        Span<float> b = summed.BiasIh(0, 0);
        for (int k = 0; k < b.Length; k++)
        {
            miss = Math.Max(miss, Math.Abs(b[k] - (ih[k] + hh[k])));
            scale = Math.Max(scale, Math.Abs(ih[k] + hh[k]));
        }

        Assert.True(miss > 10 * TrajectoryRelative * scale, $"the summed mode should miss PyTorch's biases; it is within {miss / scale:E2}");
    }

    /// <summary>
    /// A model without biases (<see cref="LstmOptions.Bias"/> false, nn.LSTM(bias=False)) trains LstmStackParameters with
    /// <see cref="LstmBiasMode.None"/>: there is no bias tensor to update, ToLstm gives a bias-free Lstm (so exports write
    /// no bias), and parameters with bias tensors are refused for such options.
    /// </summary>
    [Fact]
    public void LstmTrainer_WithoutBias_HasNoBiasToTrain()
    {
        var noBias = new LstmOptions { Bias = false };
        Check.Throws<ArgumentException>("options", () => _ = new LstmTrainer(RandomStack(2, 3, 1, 1, 0, LstmBiasMode.Separate, 1), noBias, 1, 1));
        Check.Throws<ArgumentException>("options", () => _ = new LstmTrainer(RandomStack(2, 3, 1, 1, 0, LstmBiasMode.Summed, 1), noBias, 1, 1));
        LstmStackParameters p = RandomStack(2, 3, 2, 1, 0, LstmBiasMode.None, 1);

        // Both ways: options with biases (the default) and parameters without bias tensors would train a bias-free model
        // while the options say it has biases; refused, the message saying what to set.
        ArgumentException e = Check.Throws<ArgumentException>("options", () => _ = new LstmTrainer(p, null, 1, 1));
        Assert.Contains("Bias = false", e.Message, StringComparison.Ordinal);
        e = Check.Throws<ArgumentException>("options", () => _ = new LstmTrainer(p, new LstmOptions { Bias = true }, 1, 1));
        Assert.Contains("Bias = false", e.Message, StringComparison.Ordinal);
        e = Check.Throws<ArgumentException>("options", () => _ = new LstmTrainer(RandomStack(2, 3, 1, 1, 0, LstmBiasMode.Separate, 1), noBias, 1, 1));
        Assert.Contains("LstmBiasMode.None", e.Message, StringComparison.Ordinal);
        Check.Throws<ArgumentException>("options", () => p.ToLstm(new LstmOptions { Bias = true }));
        Check.Throws<ArgumentException>("options", () => RandomStack(2, 3, 1, 1, 0, LstmBiasMode.Summed, 1).ToLstm(noBias));

        var trainer = new LstmTrainer(p, noBias, 2, 3);
        LstmStackParameters g = p.CreateGradient();
        var adam = new AdamOptimizer(p, 0.01f);
        float[] x = Generators.Fill(12, Dist.Unit, 2), dY = Generators.Fill(18, Dist.Unit, 3);
        for (int step = 0; step < 3; step++)
        {
            trainer.Forward(x, default, default, default, default, default);
            Gradients.Clear(g);
            trainer.Backward(dY, default, default, g, default, default, default);
            adam.Update(g);
        }

        Lstm model = p.ToLstm();
        Assert.False(model.Options.Bias);
        Assert.All(model.GetParameters(1, 0).Bias.ToArray(), v => Assert.Equal(0f, v));
        Assert.DoesNotContain(p.Names, n => n.StartsWith("bias", StringComparison.Ordinal));
    }

    /// <summary>One layer, one direction, summed bias, all rows full: the trainer is LstmBptt, bit for bit.</summary>
    [Theory]
    [InlineData(3, 5, 2, 4)]
    [InlineData(17, 33, 3, 5)]
    [InlineData(1, 1, 1, 1)]
    public void LstmTrainer_OneLayer_IsLstmBptt(int input, int hidden, int batch, int steps)
    {
        LstmParameters cell = LstmParameters.CreateRandom(input, hidden, 5);
        LstmStackParameters p = LstmStackParameters.FromCells([cell], 1, LstmBiasMode.Summed);
        var trainer = new LstmTrainer(p, null, batch, steps);
        var bptt = new LstmBptt(cell, batch, steps);
        int states = batch * hidden;
        float[] x = Generators.Fill(steps * batch * input, Dist.Unit, 1), h0 = Generators.Fill(states, Dist.Unit, 2), c0 = Generators.Fill(states, Dist.Unit, 3);
        float[] dY = Generators.Fill(steps * states, Dist.Unit, 4), dhT = Generators.Fill(states, Dist.Unit, 5), dcT = Generators.Fill(states, Dist.Unit, 6);
        float[] y1 = new float[dY.Length], y2 = new float[dY.Length], hT = new float[states], cT = new float[states];
        trainer.Forward(x, h0, c0, y1, hT, cT);
        bptt.Forward(x, h0, c0, y2);
        Check.BitwiseEqual(y2, y1, "y");
        Check.BitwiseEqual(bptt.HiddenState, hT, "hT");
        Check.BitwiseEqual(bptt.CellState, cT, "cT");

        LstmStackParameters g1 = p.CreateGradient();
        var g2 = new LstmParameters(input, hidden);
        float[] dx1 = new float[x.Length], dx2 = new float[x.Length], dh1 = new float[states], dh2 = new float[states], dc1 = new float[states], dc2 = new float[states];
        trainer.Backward(dY, dhT, dcT, g1, dx1, dh1, dc1);
        bptt.Backward(dY, dhT, dcT, g2, dx2, dh2, dc2);
        Check.BitwiseEqual(g2.WeightIh, g1.WeightIh(0, 0), "WeightIh");
        Check.BitwiseEqual(g2.WeightHh, g1.WeightHh(0, 0), "WeightHh");
        Check.BitwiseEqual(g2.Bias, g1.BiasIh(0, 0), "Bias");
        Check.BitwiseEqual(dx2, dx1, "dX");
        Check.BitwiseEqual(dh2, dh1, "dh0");
        Check.BitwiseEqual(dc2, dc1, "dc0");
    }

    /// <summary>
    /// The training forward is the inference forward: y, hT and cT of the trainer against <see cref="Lstm.Forward"/> of
    /// the same weights (<see cref="LstmStackParameters.ToLstm"/>), with projections, batch-first and per-row lengths
    /// (the LSTM's unfused route sums the same terms in another order: within 1e-6).
    /// </summary>
    [Theory]
    [InlineData(0, false)]
    [InlineData(3, true)]
    public void LstmTrainer_ForwardMatchesLstm(int projection, bool batchFirst)
    {
        LstmStackParameters p = RandomStack(4, 6, 2, 2, projection, LstmBiasMode.Separate, 8);
        var options = new LstmOptions { Direction = LstmDirection.Bidirectional, BatchFirst = batchFirst };
        const int B = 3, T = 5;
        int s = p.StateSize;
        int[] lengths = [5, 2, 0];
        float[] x = Generators.Fill(B * T * 4, Dist.Unit, 1), h0 = Generators.Fill(4 * B * s, Dist.Unit, 2), c0 = Generators.Fill(4 * B * 6, Dist.Unit, 3);
        float[] y1 = new float[B * T * 2 * s], y2 = new float[y1.Length], hT1 = new float[h0.Length], hT2 = new float[h0.Length], cT1 = new float[c0.Length], cT2 = new float[c0.Length];
        new LstmTrainer(p, options, B, T).Forward(x, h0, c0, y1, hT1, cT1, lengths);
        p.ToLstm(options).Forward(B, x, h0, c0, y2, hT2, cT2, lengths);
        AssertClose(Array.ConvertAll(y2, v => (double)v), y1, "y", 0, 1e-6);
        AssertClose(Array.ConvertAll(hT2, v => (double)v), hT1, "hT", 0, 1e-6);
        AssertClose(Array.ConvertAll(cT2, v => (double)v), cT1, "cT", 0, 1e-6);
    }

    /// <summary>
    /// Each row of a ragged batch is its own sequence: its outputs and final states are bitwise those of the row run
    /// alone with T = its length, and its gradients of x, h0, c0 too (the weight gradients sum over rows, so only near),
    /// with nonzero gradients of the final states (dhT, dcT), which enter each row at its own last step.
    /// </summary>
    [Fact]
    public void LstmTrainer_RaggedRows_AreTheirOwnSequences()
    {
        LstmStackParameters p = RandomStack(3, 5, 2, 2, 0, LstmBiasMode.Summed, 9);
        var options = new LstmOptions { Direction = LstmDirection.Bidirectional };
        const int B = 3, T = 4, I = 3, H = 5, Cells = 4;
        int[] lengths = [4, 1, 3];
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 1), h0 = Generators.Fill(Cells * B * H, Dist.Unit, 2), c0 = Generators.Fill(Cells * B * H, Dist.Unit, 3);
        float[] dY = Generators.Fill(T * B * 2 * H, Dist.Unit, 4), dhT = Generators.Fill(h0.Length, Dist.Unit, 5), dcT = Generators.Fill(c0.Length, Dist.Unit, 6);
        var all = new LstmTrainer(p, options, B, T);
        float[] y = new float[dY.Length], hT = new float[h0.Length], cT = new float[c0.Length], dX = new float[x.Length], dh0 = new float[h0.Length], dc0 = new float[c0.Length];
        all.Forward(x, h0, c0, y, hT, cT, lengths);
        all.Backward(dY, dhT, dcT, p.CreateGradient(), dX, dh0, dc0);
        for (int b = 0; b < B; b++)
        {
            int length = lengths[b];
            float[] xr = new float[length * I], dYr = new float[length * 2 * H], h0r = new float[Cells * H], c0r = new float[Cells * H];
            float[] dhTr = new float[Cells * H], dcTr = new float[Cells * H];
            for (int t = 0; t < length; t++)
            {
                x.AsSpan(((t * B) + b) * I, I).CopyTo(xr.AsSpan(t * I));
                dY.AsSpan(((t * B) + b) * 2 * H, 2 * H).CopyTo(dYr.AsSpan(t * 2 * H));
            }

            for (int k = 0; k < Cells; k++)
            {
                h0.AsSpan(((k * B) + b) * H, H).CopyTo(h0r.AsSpan(k * H));
                c0.AsSpan(((k * B) + b) * H, H).CopyTo(c0r.AsSpan(k * H));
                dhT.AsSpan(((k * B) + b) * H, H).CopyTo(dhTr.AsSpan(k * H));
                dcT.AsSpan(((k * B) + b) * H, H).CopyTo(dcTr.AsSpan(k * H));
            }

            var one = new LstmTrainer(p, options, 1, T);
            float[] yr = new float[dYr.Length], hTr = new float[h0r.Length], cTr = new float[c0r.Length], dXr = new float[xr.Length], dh0r = new float[h0r.Length], dc0r = new float[c0r.Length];
            one.Forward(xr, h0r, c0r, yr, hTr, cTr);
            one.Backward(dYr, dhTr, dcTr, p.CreateGradient(), dXr, dh0r, dc0r);
            for (int t = 0; t < T; t++)
            {
                ReadOnlySpan<float> got = y.AsSpan(((t * B) + b) * 2 * H, 2 * H);
                Check.BitwiseEqual(t < length ? yr.AsSpan(t * 2 * H, 2 * H) : new float[2 * H], got, $"row {b} y at t = {t}");
                Check.BitwiseEqual(t < length ? dXr.AsSpan(t * I, I) : new float[I], dX.AsSpan(((t * B) + b) * I, I), $"row {b} dX at t = {t}");
            }

            for (int k = 0; k < Cells; k++)
            {
                Check.BitwiseEqual(hTr.AsSpan(k * H, H), hT.AsSpan(((k * B) + b) * H, H), $"row {b} hT cell {k}");
                Check.BitwiseEqual(cTr.AsSpan(k * H, H), cT.AsSpan(((k * B) + b) * H, H), $"row {b} cT cell {k}");
                Check.BitwiseEqual(dh0r.AsSpan(k * H, H), dh0.AsSpan(((k * B) + b) * H, H), $"row {b} dh0 cell {k}");
                Check.BitwiseEqual(dc0r.AsSpan(k * H, H), dc0.AsSpan(((k * B) + b) * H, H), $"row {b} dc0 cell {k}");
            }
        }
    }

    /// <summary>
    /// Nothing past a row's length takes part (docs/training.md): NaN or ∞ padding in x and dY gives bitwise the results
    /// of zero padding: y, hT, cT, every tensor's gradient, dX, dh0, dc0. The weight-gradient products run over all T·B
    /// rows and multiply the padded rows by a zero gradient, and 0·NaN = 0·∞ = NaN, so the padding must not reach them.
    /// </summary>
    [Theory]
    [InlineData(float.NaN, false)]
    [InlineData(float.PositiveInfinity, true)]
    [InlineData(float.NegativeInfinity, false)]
    public void LstmTrainer_NonFinitePadding_IsZeroPadding(float pad, bool batchFirst)
    {
        LstmStackParameters p = RandomStack(3, 5, 2, 2, 2, LstmBiasMode.Separate, 11);
        var options = new LstmOptions { Direction = LstmDirection.Bidirectional, BatchFirst = batchFirst };
        const int B = 3, T = 4, I = 3, S = 2;
        int[] lengths = [4, 0, 2];
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 1), dY = Generators.Fill(T * B * 2 * S, Dist.Unit, 2);
        float[] zero = RunRagged(new LstmTrainer(p, options, B, T), Pad(x, I, 0f), Pad(dY, 2 * S, 0f), lengths, 3);
        float[] bad = RunRagged(new LstmTrainer(p, options, B, T), Pad(x, I, pad), Pad(dY, 2 * S, pad), lengths, 3);
        Assert.All(zero, v => Assert.True(float.IsFinite(v)));
        Check.BitwiseEqual(zero, bad, $"y, hT, cT, gradient, dX, dh0, dc0 with {pad} padding");

        float[] Pad(float[] values, int features, float value)
        {
            float[] padded = (float[])values.Clone();
            for (int b = 0; b < B; b++)
            {
                for (int t = lengths[b]; t < T; t++)
                {
                    padded.AsSpan((batchFirst ? (b * T) + t : (t * B) + b) * features, features).Fill(value);
                }
            }

            return padded;
        }
    }

    /// <summary>
    /// The caches past a row's length hold nothing of an earlier call: a ragged batch after a batch of NaN or ∞ (every
    /// row full, or ragged with other lengths) gives bitwise the results of a fresh trainer, projections included (the
    /// stale h_{t−1} and m_t rows would make dW_hh and dW_hr NaN).
    /// </summary>
    [Fact]
    public void LstmTrainer_RaggedBatchAfterNonFiniteBatch_IsAFreshTrainer()
    {
        LstmStackParameters p = RandomStack(3, 5, 2, 2, 2, LstmBiasMode.Separate, 12);
        var options = new LstmOptions { Direction = LstmDirection.Bidirectional };
        const int B = 3, T = 4, I = 3, S = 2;
        int[] lengths = [2, 4, 1];
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 1), dY = Generators.Fill(T * B * 2 * S, Dist.Unit, 2);
        float[] fresh = RunRagged(new LstmTrainer(p, options, B, T), x, dY, lengths, 4);
        Assert.All(fresh, v => Assert.True(float.IsFinite(v)));
        foreach ((float poison, int[] poisonLengths) in new[] { (float.NaN, Array.Empty<int>()), (float.PositiveInfinity, new[] { 4, 3, 4 }) })
        {
            var trainer = new LstmTrainer(p, options, B, T);
            float[] bad = new float[x.Length];
            bad.AsSpan().Fill(poison);
            float[] badDy = new float[dY.Length];
            badDy.AsSpan().Fill(poison);
            _ = RunRagged(trainer, bad, badDy, poisonLengths, 5);
            Check.BitwiseEqual(fresh, RunRagged(trainer, x, dY, lengths, 4), $"after a batch of {poison} (lengths [{string.Join(", ", poisonLengths)}])");
        }
    }

    /// <summary>hT, cT may be exactly h0, c0 (a state carried across windows in place) and dh0, dc0 exactly dhT, dcT: the same bits as separate buffers.</summary>
    [Fact]
    public void LstmTrainer_StatesInPlace()
    {
        LstmStackParameters p = RandomStack(3, 4, 2, 2, 2, LstmBiasMode.Separate, 10);
        var options = new LstmOptions { Direction = LstmDirection.Bidirectional };
        const int B = 2, T = 3;
        float[] x = Generators.Fill(T * B * 3, Dist.Unit, 1), h0 = Generators.Fill(4 * B * 2, Dist.Unit, 2), c0 = Generators.Fill(4 * B * 4, Dist.Unit, 3);
        float[] dY = Generators.Fill(T * B * 4, Dist.Unit, 4), dhT = Generators.Fill(h0.Length, Dist.Unit, 5), dcT = Generators.Fill(c0.Length, Dist.Unit, 6);
        var trainer = new LstmTrainer(p, options, B, T);
        float[] hT = new float[h0.Length], cT = new float[c0.Length], dh0 = new float[h0.Length], dc0 = new float[c0.Length];
        trainer.Forward(x, h0, c0, default, hT, cT, [3, 2]);
        trainer.Backward(dY, dhT, dcT, p.CreateGradient(), default, dh0, dc0);
        float[] h = (float[])h0.Clone(), c = (float[])c0.Clone(), dh = (float[])dhT.Clone(), dc = (float[])dcT.Clone();
        trainer.Forward(x, h, c, default, h, c, [3, 2]);
        trainer.Backward(dY, dh, dc, p.CreateGradient(), default, dh, dc);
        Check.BitwiseEqual(hT, h, "hT in place");
        Check.BitwiseEqual(cT, c, "cT in place");
        Check.BitwiseEqual(dh0, dh, "dh0 in place");
        Check.BitwiseEqual(dc0, dc, "dc0 in place");
    }

    /// <summary>Per-row lengths that are all T are no lengths: bitwise the same outputs and gradients.</summary>
    [Fact]
    public void LstmTrainer_FullLengths_AreNoLengths()
    {
        var p = RandomStack(4, 6, 2, 2, 0, LstmBiasMode.Separate, 3);
        var options = new LstmOptions { Direction = LstmDirection.Bidirectional, BatchFirst = true };
        const int B = 3, T = 5;
        float[] x = Generators.Fill(B * T * 4, Dist.Unit, 1), dY = Generators.Fill(B * T * 12, Dist.Unit, 2);
        var results = new List<float[]>();
        foreach (int[] lengths in new[] { Array.Empty<int>(), [T, T, T] })
        {
            var trainer = new LstmTrainer(p, options, B, T);
            float[] y = new float[dY.Length], dX = new float[x.Length];
            LstmStackParameters g = p.CreateGradient();
            trainer.Forward(x, default, default, y, default, default, lengths);
            trainer.Backward(dY, default, default, g, dX, default, default);
            results.Add([.. y, .. dX, .. g.Values]);
        }

        Check.BitwiseEqual(results[0], results[1], "y, dX and gradient");
    }

    /// <summary>
    /// Empty initial states are zeros (docs/errors.md) and empty dY, dhT, dcT are zero gradients: bitwise the results
    /// of explicit zeros.
    /// </summary>
    [Fact]
    public void LstmTrainer_EmptyStatesAndGradients_AreZeros()
    {
        LstmStackParameters p = RandomStack(3, 5, 2, 2, 3, LstmBiasMode.Separate, 4);
        var options = new LstmOptions { Direction = LstmDirection.Bidirectional };
        const int B = 2, T = 4;
        int[] lengths = [4, 2];
        float[] x = Generators.Fill(T * B * 3, Dist.Unit, 1), dY = Generators.Fill(T * B * 6, Dist.Unit, 2);
        float[] zerosH = new float[4 * B * 3], zerosC = new float[4 * B * 5];
        var results = new List<float[]>();
        for (int run = 0; run < 2; run++)
        {
            var trainer = new LstmTrainer(p, options, B, T);
            float[] y = new float[dY.Length], dX = new float[x.Length], dh0 = new float[zerosH.Length], dc0 = new float[zerosC.Length];
            LstmStackParameters g = p.CreateGradient();
            if (run == 0)
            {
                trainer.Forward(x, zerosH, zerosC, y, default, default, lengths);
                trainer.Backward(dY, zerosH, zerosC, g, dX, dh0, dc0);
            }
            else
            {
                trainer.Forward(x, default, default, y, default, default, lengths);
                trainer.Backward(dY, default, default, g, dX, dh0, dc0);
            }

            results.Add([.. y, .. dX, .. dh0, .. dc0, .. g.Values]);
        }

        Check.BitwiseEqual(results[0], results[1], "every output");

        var noDy = new LstmTrainer(p, options, B, T);
        LstmStackParameters g1 = p.CreateGradient(), g2 = p.CreateGradient();
        noDy.Forward(x, default, default, default, default, default, lengths);
        noDy.Backward(default, default, default, g1, default, default, default);
        noDy.Backward(new float[dY.Length], default, default, g2, default, default, default);
        Check.BitwiseEqual(g2.Values, g1.Values, "empty dY");
    }

    /// <summary>A whole training step (forward, loss gradient, BPTT, clipping, Adam) on a 2-layer bidirectional LSTM with projections and per-row lengths: 0 bytes.</summary>
    [Fact]
    public void LstmTrainer_TrainingStep_DoesNotAllocate()
    {
        LstmStackParameters p = RandomStack(5, 8, 2, 2, 4, LstmBiasMode.Separate, 6);
        var options = new LstmOptions { Direction = LstmDirection.Bidirectional, BatchFirst = true };
        const int B = 3, T = 6;
        var trainer = new LstmTrainer(p, options, B, T);
        LstmStackParameters gradient = p.CreateGradient();
        var adam = new AdamOptimizer(p, 1e-3f);
        var sgd = new SgdOptimizer(p, 1e-3f, 0.9f);
        float[] x = Generators.Fill(B * T * 5, Dist.Unit, 1), y = new float[B * T * 8], dY = Generators.Fill(y.Length, Dist.Unit, 2);
        float[] dX = new float[x.Length], hT = new float[4 * B * 4], cT = new float[4 * B * 8], dh0 = new float[hT.Length], dc0 = new float[cT.Length];
        int[] lengths = [6, 3, 5];
        long bytes = Allocation.Measure(
            () =>
            {
                trainer.Forward(x, default, default, y, hT, cT, lengths);
                Gradients.Clear(gradient);
                trainer.Backward(dY, default, default, gradient, dX, dh0, dc0);
                Gradients.ClipByGlobalNorm(gradient, default, 1f);
                adam.Update(gradient);
                sgd.Update(gradient);
            },
            warmUp: 50,
            iterations: 200);
        Assert.Equal(0, bytes);
    }

    [Fact]
    public void LstmTrainer_Throws()
    {
        LstmStackParameters p = RandomStack(3, 4, 2, 2, 0, LstmBiasMode.Separate, 1);
        var bi = new LstmOptions { Direction = LstmDirection.Bidirectional };
        Assert.Throws<ArgumentNullException>(() => new LstmTrainer(null!, bi, 1, 1));
        Check.Throws<ArgumentException>("options", () => _ = new LstmTrainer(p, null, 1, 1));
        Check.Throws<ArgumentException>("options", () => _ = new LstmTrainer(p, bi with { Clip = 1f }, 1, 1));
        Check.Throws<ArgumentOutOfRangeException>("batchSize", () => _ = new LstmTrainer(p, bi, 0, 1));
        Check.Throws<ArgumentOutOfRangeException>("maxSteps", () => _ = new LstmTrainer(p, bi, 1, 0));
        var trainer = new LstmTrainer(p, bi, 2, 3);
        Check.Throws<ArgumentException>("x", () => trainer.Forward(new float[5], default, default, default, default, default));
        Check.Throws<ArgumentException>("x", () => trainer.Forward(new float[24], default, default, default, default, default));
        Check.Throws<ArgumentException>("h0", () => trainer.Forward(new float[6], new float[3], default, default, default, default));
        Check.Throws<ArgumentException>("c0", () => trainer.Forward(new float[6], default, new float[3], default, default, default));
        Check.Throws<ArgumentException>("y", () => trainer.Forward(new float[6], default, default, new float[3], default, default));
        Check.Throws<ArgumentException>("hT", () => trainer.Forward(new float[6], default, default, default, new float[3], default));
        Check.Throws<ArgumentException>("cT", () => trainer.Forward(new float[6], default, default, default, default, new float[3]));
        Check.Throws<ArgumentException>("sequenceLengths", () => trainer.Forward(new float[6], default, default, default, default, default, [1]));
        Check.Throws<ArgumentException>("sequenceLengths", () => trainer.Forward(new float[6], default, default, default, default, default, [1, 2]));
        float[] buffer = new float[64];
        Check.Throws<ArgumentException>("y", () => trainer.Forward(buffer.AsSpan(0, 12), default, default, buffer.AsSpan(4, 32), default, default));
        float[] x = new float[12];
        trainer.Forward(x, default, default, default, default, default);
        LstmStackParameters g = p.CreateGradient();
        Assert.Throws<ArgumentNullException>(() => trainer.Backward(default, default, default, null!, default, default, default));
        Check.Throws<ArgumentException>("gradient", () => trainer.Backward(default, default, default, RandomStack(3, 4, 2, 2, 0, LstmBiasMode.Summed, 1), default, default, default));
        Check.Throws<ArgumentException>("gradient", () => trainer.Backward(default, default, default, p, default, default, default));
        Check.Throws<ArgumentException>("dY", () => trainer.Backward(new float[5], default, default, g, default, default, default));
        Check.Throws<ArgumentException>("dhT", () => trainer.Backward(default, new float[5], default, g, default, default, default));
        Check.Throws<ArgumentException>("dcT", () => trainer.Backward(default, default, new float[5], g, default, default, default));
        Check.Throws<ArgumentException>("dX", () => trainer.Backward(default, default, default, g, new float[5], default, default));
        Check.Throws<ArgumentException>("dh0", () => trainer.Backward(default, default, default, g, default, new float[5], default));
        Check.Throws<ArgumentException>("dc0", () => trainer.Backward(default, default, default, g, default, default, new float[5]));
        float[] states = new float[40];
        Check.Throws<ArgumentException>("dh0", () => trainer.Backward(default, states.AsSpan(0, 32), default, g, default, states.AsSpan(4, 32), default));
        trainer.Backward(default, states.AsSpan(0, 32), default, g, default, states.AsSpan(0, 32), default); // exactly in place is allowed
    }

    /// <summary>Runs the fixture's 20 optimizer steps in <paramref name="mode"/>; returns each step's loss and norm (before clipping) and the final parameters.</summary>
    private static (double[] Losses, double[] Norms, LstmStackParameters Parameters) RunTrajectory(TrainingFixture f, LstmBiasMode mode)
    {
        LstmStackParameters p = f.CreateParameters(mode);
        var trainer = new LstmTrainer(p, f.Options, f.Batch, f.Steps);
        LstmStackParameters gradient = p.CreateGradient();
        float maxNorm = (float)f.Double("max_norm");
        SgdOptimizer? sgd = null;
        AdamOptimizer? adam = null;
        if (f.Text("optimizer") == "sgd")
        {
            sgd = new SgdOptimizer(p, (float)f.Setting("lr"), (float)f.Setting("momentum"));
        }
        else
        {
            adam = new AdamOptimizer(p, (float)f.Setting("lr"), (float)f.Setting("beta1"), (float)f.Setting("beta2"), (float)f.Setting("eps"));
        }

        float[] x = f.Floats("x"), h0 = f.Floats("h0"), c0 = f.Floats("c0");
        double[] target = f.Doubles("target");
        float[] y = new float[target.Length], dY = new float[target.Length];
        int steps = f.Doubles("losses").Length;
        double[] losses = new double[steps], norms = new double[steps];
        for (int step = 0; step < steps; step++)
        {
            trainer.Forward(x, h0, c0, y, default, default, f.Lengths);
            double loss = 0;
            for (int k = 0; k < y.Length; k++)
            {
                double e = y[k] - target[k];
                loss += 0.5 * e * e / f.Batch;
                dY[k] = (float)(e / f.Batch);
            }

            Gradients.Clear(gradient);
            trainer.Backward(dY, default, default, gradient, default, default, default);
            norms[step] = Gradients.ClipByGlobalNorm(gradient, default, maxNorm);
            losses[step] = loss;
            if (sgd is not null)
            {
                sgd.Update(gradient);
            }
            else
            {
                adam!.Update(gradient);
            }
        }

        return (losses, norms, p);
    }

    /// <summary>One forward and backward on <paramref name="trainer"/> with random states and state gradients (seeded by <paramref name="seed"/>); returns y, hT, cT, the gradient, dX, dh0 and dc0 in one array.</summary>
    private static float[] RunRagged(LstmTrainer trainer, float[] x, float[] dY, int[] lengths, int seed)
    {
        LstmStackParameters p = trainer.Parameters;
        int cells = p.Layers * p.Directions, batch = trainer.BatchSize;
        float[] h0 = Generators.Fill(cells * batch * p.StateSize, Dist.Unit, seed), c0 = Generators.Fill(cells * batch * p.HiddenSize, Dist.Unit, seed + 1);
        float[] dhT = Generators.Fill(h0.Length, Dist.Unit, seed + 2), dcT = Generators.Fill(c0.Length, Dist.Unit, seed + 3);
        float[] y = new float[dY.Length], hT = new float[h0.Length], cT = new float[c0.Length], dX = new float[x.Length], dh0 = new float[h0.Length], dc0 = new float[c0.Length];
        LstmStackParameters g = p.CreateGradient();
        trainer.Forward(x, h0, c0, y, hT, cT, lengths);
        trainer.Backward(dY, dhT, dcT, g, dX, dh0, dc0);
        return [.. y, .. hT, .. cT, .. g.Values, .. dX, .. dh0, .. dc0];
    }

    internal static LstmStackParameters RandomStack(int input, int hidden, int layers, int directions, int projection, LstmBiasMode mode, int seed)
    {
        var p = new LstmStackParameters(input, hidden, layers, directions, projection, mode);
        float[] values = Generators.Fill(p.Values.Length, Dist.Unit, seed);
        float scale = 1f / MathF.Sqrt(hidden);
        for (int k = 0; k < values.Length; k++)
        {
            p.Values[k] = values[k] * scale;
        }

        return p;
    }

    /// <summary>Asserts |got − expected| ≤ rel·max|expected| + abs for every element; returns the worst error / max|expected|.</summary>
    internal static double AssertClose(double[] expected, ReadOnlySpan<float> got, string what, double relative = FixtureRelative, double absolute = FixtureAbsolute)
    {
        Assert.True(expected.Length == got.Length, $"{what}: length {got.Length}, expected {expected.Length}");
        double scale = expected.Length == 0 ? 0 : expected.Max(Math.Abs);
        double bound = (relative * scale) + absolute;
        double worst = 0;
        for (int k = 0; k < expected.Length; k++)
        {
            Check.Near(expected[k], got[k], bound, what, k);
            worst = Math.Max(worst, Math.Abs(got[k] - expected[k]));
        }

        return scale == 0 ? 0 : worst / scale;
    }
}
