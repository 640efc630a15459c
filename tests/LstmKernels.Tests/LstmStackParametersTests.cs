using System.Text.Json;
using LstmKernels.Interop;
using LstmKernels.Training;

namespace LstmKernels.Tests;

/// <summary>
/// LstmStackParameters and the bias modes (Training/): PyTorch's tensor names and order, round trips with the cells of
/// an Lstm, and what the optimizers and the clipping norm see in each mode (PyTorch's two biases: an SGD step moves
/// their sum twice as far, the norm counts the bias gradient twice).
/// </summary>
public sealed class LstmStackParametersTests
{
    /// <summary>The names, order and sizes are those of PyTorch's named_parameters() (read from the fixtures PyTorch wrote).</summary>
    [Theory]
    [InlineData("grad_bidir2_lengths.json", LstmBiasMode.Separate)]
    [InlineData("grad_proj_lengths.json", LstmBiasMode.Separate)]
    [InlineData("grad_nobias.json", LstmBiasMode.None)]
    public void LstmStackParameters_NamesAreNamedParameters(string file, LstmBiasMode mode)
    {
        TrainingFixture f = TrainingFixture.Load(file);
        var p = new LstmStackParameters(f.InputSize, f.HiddenSize, f.Layers, f.Directions, f.ProjectionSize, mode);
        Assert.Equal(f.Names, p.Names);
        int total = 0;
        foreach (string name in f.Names)
        {
            int length = f.Tensor("parameters", name).Length;
            Assert.Equal(length, p.Tensor(name).Length);
            total += length;
        }

        Assert.Equal(total, p.Values.Length);
    }

    [Fact]
    public void LstmStackParameters_SummedAndNone_HaveFewerBiases()
    {
        var summed = new LstmStackParameters(3, 4, 2, 2, 0, LstmBiasMode.Summed);
        Assert.Equal(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse"], summed.Names.Take(6));
        Assert.True(summed.BiasHh(1, 1).IsEmpty);
        Assert.Equal(16, summed.BiasIh(1, 1).Length);
        var none = new LstmStackParameters(3, 4, 1, 1, 0, LstmBiasMode.None);
        Assert.Equal(["weight_ih_l0", "weight_hh_l0"], none.Names);
        Assert.True(none.BiasIh(0, 0).IsEmpty);
        Assert.True(none.WeightHr(0, 0).IsEmpty);
    }

    /// <summary>
    /// FromCells then GetParameters gives the cells back (the summed bias in bias_ih, bias_hh zero), and ToLstm runs
    /// the same model as Lstm.Create over the cells, bitwise.
    /// </summary>
    [Fact]
    public void LstmStackParameters_FromCells_RoundTrips()
    {
        LstmParameters[] cells = [LstmParameters.CreateRandom(3, 4, 1), LstmParameters.CreateRandom(3, 4, 2), LstmParameters.CreateRandom(8, 4, 3), LstmParameters.CreateRandom(8, 4, 4)];
        var options = new LstmOptions { Direction = LstmDirection.Bidirectional, BatchFirst = true };
        foreach (LstmBiasMode mode in new[] { LstmBiasMode.Separate, LstmBiasMode.Summed })
        {
            var p = LstmStackParameters.FromCells(cells, 2, mode);
            for (int k = 0; k < cells.Length; k++)
            {
                LstmParameters back = p.GetParameters(k / 2, k % 2);
                Check.BitwiseEqual(cells[k].WeightIh, back.WeightIh, "WeightIh");
                Check.BitwiseEqual(cells[k].WeightHh, back.WeightHh, "WeightHh");
                Check.BitwiseEqual(cells[k].Bias, back.Bias, "Bias");
            }

            float[] x = Generators.Fill(2 * 5 * 3, Dist.Unit, 9), y1 = new float[2 * 5 * 8], y2 = new float[2 * 5 * 8];
            Lstm.Create(cells, options).Forward(2, x, default, default, y1, default, default);
            p.ToLstm(options).Forward(2, x, default, default, y2, default, default);
            Check.BitwiseEqual(y1, y2, $"{mode}: y");
        }

        ProjectedLstmParameters[] projected = [ProjectedLstmParameters.CreateRandom(3, 5, 2, 1), ProjectedLstmParameters.CreateRandom(2, 5, 2, 2)];
        var q = LstmStackParameters.FromProjectedCells(projected, 1, LstmBiasMode.Separate);
        ProjectedLstmParameters second = q.GetProjectedParameters(1, 0);
        Check.BitwiseEqual(projected[1].WeightHr, second.WeightHr, "WeightHr");
        Check.BitwiseEqual(projected[1].Bias, second.Bias, "Bias");
        Assert.Throws<InvalidOperationException>(() => q.GetParameters(0, 0));
        Assert.Throws<InvalidOperationException>(() => LstmStackParameters.FromCells(cells, 2, LstmBiasMode.Summed).GetProjectedParameters(0, 0));
    }

    /// <summary>CreateRandom draws every tensor from U(−1/√H, 1/√H) (the summed bias from the sum of two draws), the same for the same seed.</summary>
    [Fact]
    public void LstmStackParameters_CreateRandom_IsPyTorchsInit()
    {
        foreach (LstmBiasMode mode in new[] { LstmBiasMode.Separate, LstmBiasMode.Summed, LstmBiasMode.None })
        {
            var p = LstmStackParameters.CreateRandom(3, 16, 2, 2, 5, mode, 7);
            Check.BitwiseEqual(p.Values, LstmStackParameters.CreateRandom(3, 16, 2, 2, 5, mode, 7).Values, "same seed");
            foreach (string name in p.Names)
            {
                float bound = (mode == LstmBiasMode.Summed && name.StartsWith("bias", StringComparison.Ordinal) ? 2 : 1) / 4f;
                float[] values = p.Tensor(name).ToArray();
                Assert.All(values, v => Assert.InRange(v, -bound, bound));
                Assert.Contains(values, v => v != 0);
            }
        }
    }

    /// <summary>FromLstm reads an Lstm's weights (with or without projections) back into a stack; a bias-free model needs the None mode.</summary>
    [Fact]
    public void LstmStackParameters_FromLstm_ReadsTheModel()
    {
        LstmParameters[] cells = [LstmParameters.CreateRandom(3, 4, 1), LstmParameters.CreateRandom(4, 4, 2)];
        Lstm lstm = Lstm.Create(cells);
        var p = LstmStackParameters.FromLstm(lstm, LstmBiasMode.Separate);
        Assert.Equal(2, p.Layers);
        Check.BitwiseEqual(cells[1].WeightHh, p.WeightHh(1, 0), "WeightHh");
        Check.BitwiseEqual(cells[1].Bias, p.BiasIh(1, 0), "bias_ih");
        Assert.All(p.BiasHh(1, 0).ToArray(), v => Assert.Equal(0f, v));

        ProjectedLstmParameters[] projected = [ProjectedLstmParameters.CreateRandom(3, 5, 2, 1), ProjectedLstmParameters.CreateRandom(3, 5, 2, 2)];
        var q = LstmStackParameters.FromLstm(Lstm.CreateProjected(projected, new LstmOptions { Direction = LstmDirection.Bidirectional }), LstmBiasMode.Summed);
        Check.BitwiseEqual(projected[1].WeightHr, q.WeightHr(0, 1), "WeightHr");

        LstmParameters zeroBias = LstmParameters.CreateRandom(3, 4, 1);
        zeroBias.Bias.Clear();
        Lstm biasFree = Lstm.Create([zeroBias], new LstmOptions { Bias = false });
        Check.Throws<ArgumentException>("biasMode", () => LstmStackParameters.FromLstm(biasFree, LstmBiasMode.Separate));
        Assert.Equal(["weight_ih_l0", "weight_hh_l0"], LstmStackParameters.FromLstm(biasFree, LstmBiasMode.None).Names);

        // A model with biases (even zero ones) is not trained bias-free: the mode must agree with Options.Bias.
        Check.Throws<ArgumentException>("biasMode", () => LstmStackParameters.FromLstm(Lstm.Create([zeroBias]), LstmBiasMode.None));
        Assert.Throws<ArgumentNullException>(() => LstmStackParameters.FromLstm(null!, LstmBiasMode.None));
    }

    /// <summary>
    /// Fine-tuning a torch.save file with both biases: FromStateDict reads stack.pt (2 layers, from PyTorch 1.13, via
    /// PyTorchFile) into Separate parameters, every tensor exactly under its PyTorch name, and the trainer's forward gives
    /// PyTorch's recorded y (within 1e-6); Summed holds bias_ih + bias_hh and gives the same y.
    /// </summary>
    [Fact]
    public void LstmStackParameters_LoadsATorchSaveFileByName()
    {
        IReadOnlyDictionary<string, FloatTensor> tensors = PyTorchFile.ReadFile(Path.Combine(PyTorchFolder, "stack.pt"));
        var p = LstmStackParameters.FromStateDict(tensors, "", LstmBiasMode.Separate);
        Assert.Equal((4, 5, 2, 1, 0), (p.InputSize, p.HiddenSize, p.Layers, p.Directions, p.ProjectionSize));
        Assert.Equal(p.Names.Order(StringComparer.Ordinal), tensors.Keys.Order(StringComparer.Ordinal));
        foreach (string name in p.Names)
        {
            Check.BitwiseEqual(tensors[name].Data, p.Tensor(name), name);
        }

        var summed = LstmStackParameters.FromStateDict(tensors, "", LstmBiasMode.Summed);
        float[] sum = new float[20];
        System.Numerics.Tensors.TensorPrimitives.Add(tensors["bias_ih_l1"].Data, tensors["bias_hh_l1"].Data, sum);
        Check.BitwiseEqual(sum, summed.BiasIh(1, 0), "summed bias_ih_l1");

        JsonElement stack = PyTorchCase("stack");
        float[] x = [.. stack.GetProperty("x").GetProperty("data").EnumerateArray().Select(e => e.GetSingle())];
        double[] expected = [.. stack.GetProperty("y").GetProperty("data").EnumerateArray().Select(e => e.GetDouble())];
        foreach (LstmStackParameters q in new[] { p, summed })
        {
            float[] y = new float[expected.Length];
            new LstmTrainer(q, null, 2, 4).Forward(x, default, default, y, default, default);
            LstmTrainerTests.AssertClose(expected, y, $"y ({q.BiasMode})", 0, 1e-6);
        }
    }

    /// <summary>
    /// FromStateDict then ToStateDict gives back PyTorch's state_dict bit for bit: the same keys in the same order, shapes
    /// and values, for the torch.save fixtures of a stack, a bidirectional batch-first stack, a projection, a module
    /// inside another (prefix <c>lstm.</c>; the head's keys are not ours) and a bias-free stack (None: no bias keys).
    /// </summary>
    [Theory]
    [InlineData("stack", LstmBiasMode.Separate)]
    [InlineData("bidirectional", LstmBiasMode.Separate)]
    [InlineData("projection", LstmBiasMode.Separate)]
    [InlineData("wrapped", LstmBiasMode.Separate)]
    [InlineData("no_bias", LstmBiasMode.None)]
    public void LstmStackParameters_StateDict_RoundTripsPyTorchsFiles(string name, LstmBiasMode mode)
    {
        JsonElement fixture = PyTorchCase(name);
        string prefix = fixture.GetProperty("prefix").GetString()!;
        IReadOnlyDictionary<string, FloatTensor> tensors = PyTorchFile.ReadFile(Path.Combine(PyTorchFolder, name + ".pt"));
        var p = LstmStackParameters.FromStateDict(tensors, prefix, mode);
        IReadOnlyList<FloatTensor> back = p.ToStateDict(prefix);
        string[] keys = [.. fixture.GetProperty("keys").EnumerateArray().Select(k => k.GetString()!).Where(k => k.StartsWith(prefix + "weight_", StringComparison.Ordinal) || k.StartsWith(prefix + "bias_", StringComparison.Ordinal))];
        Assert.Equal(keys, back.Select(t => t.Name));
        foreach (FloatTensor t in back)
        {
            Assert.Equal(tensors[t.Name].Shape.ToArray(), t.Shape.ToArray());
            Check.BitwiseEqual(tensors[t.Name].Data, t.Data, t.Name);
        }
    }

    /// <summary>
    /// A model trained here resumes in PyTorch with both biases: after training steps in Separate mode, ToStateDict
    /// written as safetensors and read back gives bitwise the trained values (FromStateDict), both biases apart; Summed
    /// exports its sum as bias_ih with bias_hh zero (PyTorch's strict load_state_dict needs both keys) and reads back the
    /// same; None exports no bias key.
    /// </summary>
    [Fact]
    public void LstmStackParameters_StateDict_ResumesATrainedStack()
    {
        foreach (LstmBiasMode mode in new[] { LstmBiasMode.Separate, LstmBiasMode.Summed, LstmBiasMode.None })
        {
            LstmStackParameters p = LstmStackParameters.CreateRandom(3, 5, 2, 2, 2, mode, 4);
            var options = new LstmOptions { Direction = LstmDirection.Bidirectional, Bias = mode != LstmBiasMode.None };
            var trainer = new LstmTrainer(p, options, 2, 3);
            LstmStackParameters g = p.CreateGradient();
            var adam = new AdamOptimizer(p, 0.05f);
            float[] x = Generators.Fill(18, Dist.Unit, 1), dY = Generators.Fill(24, Dist.Unit, 2);
            for (int step = 0; step < 3; step++)
            {
                trainer.Forward(x, default, default, default, default, default, [3, 1]);
                Gradients.Clear(g);
                trainer.Backward(dY, default, default, g, default, default, default);
                adam.Update(g);
            }

            IReadOnlyList<FloatTensor> exported = p.ToStateDict("lstm.");
            Assert.Equal(mode == LstmBiasMode.None ? 12 : 20, exported.Count);
            Assert.Equal("lstm.weight_ih_l0", exported[0].Name);
            if (mode == LstmBiasMode.Separate)
            {
                Check.BitwiseEqual(p.BiasHh(1, 1), exported.Single(t => t.Name == "lstm.bias_hh_l1_reverse").Data, "bias_hh_l1_reverse");
            }
            else if (mode == LstmBiasMode.Summed)
            {
                Assert.All(exported.Single(t => t.Name == "lstm.bias_hh_l1_reverse").Data.ToArray(), v => Assert.Equal(0f, v));
            }

            IReadOnlyDictionary<string, FloatTensor> read = SafetensorsFile.Read(SafetensorsFile.Write(exported));
            var resumed = LstmStackParameters.FromStateDict(read, "lstm.", mode);
            Assert.Equal(p.Names, resumed.Names);
            Check.BitwiseEqual(p.Values, resumed.Values, $"{mode}: values after the round trip");
        }
    }

    /// <summary>
    /// FromStateDict refuses what it cannot resume: a missing or misshaped tensor, one bias of a cell without the other,
    /// NaN, a P that is not in 1..H−1 (InvalidDataException, as PyTorchStateDict.CreateLstm); a bias mode that
    /// contradicts the file (ArgumentException naming mode).
    /// </summary>
    [Fact]
    public void LstmStackParameters_FromStateDict_RefusesBadTensors()
    {
        Dictionary<string, FloatTensor> Dict(LstmStackParameters p) => p.ToStateDict().ToDictionary(t => t.Name);
        LstmStackParameters good = LstmStackParameters.CreateRandom(3, 4, 2, 2, 0, LstmBiasMode.Separate, 1);

        Dictionary<string, FloatTensor> d = Dict(good);
        d.Remove("weight_hh_l1_reverse");
        Assert.Throws<InvalidDataException>(() => LstmStackParameters.FromStateDict(d, "", LstmBiasMode.Separate));
        d = Dict(good);
        d.Remove("bias_hh_l1");
        Assert.Throws<InvalidDataException>(() => LstmStackParameters.FromStateDict(d, "", LstmBiasMode.Summed));
        d = Dict(good);
        d["weight_ih_l1"] = new FloatTensor("weight_ih_l1", [16, 4], new float[64]);
        Assert.Throws<InvalidDataException>(() => LstmStackParameters.FromStateDict(d, "", LstmBiasMode.Separate));
        d = Dict(good);
        d["weight_hh_l0"] = new FloatTensor("weight_hh_l0", [15, 4], new float[60]);
        Assert.Throws<InvalidDataException>(() => LstmStackParameters.FromStateDict(d, "", LstmBiasMode.Separate));
        d = Dict(good);
        float[] nan = new float[16];
        nan[3] = float.NaN;
        d["bias_ih_l0"] = new FloatTensor("bias_ih_l0", [16], nan);
        Assert.Throws<InvalidDataException>(() => LstmStackParameters.FromStateDict(d, "", LstmBiasMode.Separate));
        Assert.Throws<InvalidDataException>(() => LstmStackParameters.FromStateDict(Dict(good), "lstm.", LstmBiasMode.Separate));
        d = Dict(LstmStackParameters.CreateRandom(3, 4, 1, 1, 2, LstmBiasMode.Separate, 1));
        d["weight_hr_l0"] = new FloatTensor("weight_hr_l0", [4, 4], new float[16]);
        Assert.Throws<InvalidDataException>(() => LstmStackParameters.FromStateDict(d, "", LstmBiasMode.Separate));

        Check.Throws<ArgumentException>("mode", () => LstmStackParameters.FromStateDict(Dict(good), "", LstmBiasMode.None));
        Check.Throws<ArgumentException>("mode", () => LstmStackParameters.FromStateDict(Dict(LstmStackParameters.CreateRandom(3, 4, 1, 1, 0, LstmBiasMode.None, 1)), "", LstmBiasMode.Separate));
        Check.Throws<ArgumentOutOfRangeException>("mode", () => LstmStackParameters.FromStateDict(Dict(good), "", (LstmBiasMode)5));
        Assert.Throws<ArgumentNullException>(() => LstmStackParameters.FromStateDict(null!, "", LstmBiasMode.Separate));
        Assert.Throws<ArgumentNullException>(() => LstmStackParameters.FromStateDict(Dict(good), null!, LstmBiasMode.Separate));
        Assert.Throws<ArgumentNullException>(() => good.ToStateDict(null!));
    }

    /// <summary>
    /// Sizes are checked in 128 bits before anything is allocated: a layer count whose tensors cannot fit in one array
    /// throws ArgumentOutOfRangeException naming layers (not OverflowException, and without allocating gigabytes), and a
    /// first layer too large names hiddenSize.
    /// </summary>
    [Fact]
    public void LstmStackParameters_HugeSizes_ThrowBeforeAllocating()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Check.Throws<ArgumentOutOfRangeException>("layers", () => _ = new LstmStackParameters(1, 1, int.MaxValue, 2, 0, LstmBiasMode.Separate));
        Check.Throws<ArgumentOutOfRangeException>("layers", () => _ = new LstmStackParameters(1, 1, int.MaxValue / 5, 1, 0, LstmBiasMode.None));
        Check.Throws<ArgumentOutOfRangeException>("layers", () => _ = LstmStackParameters.CreateRandom(8, 64, 1 << 20, 2, 0, LstmBiasMode.Summed, 1));
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => _ = new LstmStackParameters(int.MaxValue, int.MaxValue, 1, 2, int.MaxValue - 1, LstmBiasMode.Separate));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes before refusing");
    }

    /// <summary>ToLstm without options takes the stack's own: bidirectional with two directions, Bias false exactly with None.</summary>
    [Fact]
    public void LstmStackParameters_ToLstm_TakesTheStacksOwnOptions()
    {
        LstmStackParameters p = LstmStackParameters.CreateRandom(3, 4, 2, 2, 0, LstmBiasMode.Separate, 1);
        Lstm model = p.ToLstm();
        Assert.Equal(LstmDirection.Bidirectional, model.Options.Direction);
        Assert.True(model.Options.Bias);
        Assert.Equal(model.Options, p.ToLstm(new LstmOptions { Direction = LstmDirection.Bidirectional }).Options);
        Assert.Equal(LstmDirection.Forward, LstmStackParameters.CreateRandom(3, 4, 1, 1, 0, LstmBiasMode.None, 1).ToLstm().Options.Direction);
        Assert.False(LstmStackParameters.CreateRandom(3, 4, 1, 1, 0, LstmBiasMode.None, 1).ToLstm().Options.Bias);
        Check.Throws<ArgumentException>("options", () => p.ToLstm(new LstmOptions { Direction = LstmDirection.Reverse }));
    }

    private static string PyTorchFolder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch");

    private static JsonElement PyTorchCase(string name)
    {
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(PyTorchFolder, "fixtures.json")));
        return json.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name).Clone();
    }

    /// <summary>
    /// PyTorch's parameterisation: one SGD step (and one with momentum) with the same bias gradient g moves
    /// bias_ih + bias_hh by 2·lr·g; the summed mode moves its one bias by lr·g. The weights move alike in both.
    /// </summary>
    [Fact]
    public void SgdOptimizer_SeparateBiases_MoveTheSumTwiceAsFar()
    {
        const float Lr = 0.5f;
        foreach (float momentum in new[] { 0f, 0.9f })
        {
            var separate = new LstmStackParameters(2, 3, 1, 1, 0, LstmBiasMode.Separate);
            var summed = new LstmStackParameters(2, 3, 1, 1, 0, LstmBiasMode.Summed);
            LstmStackParameters gs = separate.CreateGradient(), gm = summed.CreateGradient();
            float[] g = Generators.Fill(12, Dist.Unit, 1);
            g.CopyTo(gs.BiasIh(0, 0));
            g.CopyTo(gs.BiasHh(0, 0));
            g.CopyTo(gm.BiasIh(0, 0));
            var a = new SgdOptimizer(separate, Lr, momentum);
            var b = new SgdOptimizer(summed, Lr, momentum);
            for (int step = 1; step <= 2; step++)
            {
                a.Update(gs);
                b.Update(gm);
                double factor = step == 1 ? 1 : 2 + momentum; // Σ over the steps of the velocity: g, then μg + g
                for (int k = 0; k < 12; k++)
                {
                    double sum = separate.BiasIh(0, 0)[k] + separate.BiasHh(0, 0)[k];
                    Check.Near(-2 * Lr * factor * g[k], (float)sum, 1e-6, $"μ = {momentum}, step {step}: bias_ih + bias_hh", k);
                    Check.Near(-Lr * factor * g[k], summed.BiasIh(0, 0)[k], 1e-6, $"μ = {momentum}, step {step}: summed bias", k);
                }
            }
        }
    }

    /// <summary>The clipping norm counts every tensor, so both biases in PyTorch's parameterisation (clip_grad_norm_ over model.parameters()).</summary>
    [Fact]
    public void ClipByGlobalNorm_Stack_CountsBothBiases()
    {
        var separate = new LstmStackParameters(2, 3, 1, 1, 0, LstmBiasMode.Separate);
        var summed = new LstmStackParameters(2, 3, 1, 1, 0, LstmBiasMode.Summed);
        float[] w = Generators.Fill(24, Dist.Unit, 1), b = Generators.Fill(12, Dist.Unit, 2);
        foreach (LstmStackParameters p in new[] { separate, summed })
        {
            w.CopyTo(p.WeightIh(0, 0));
            b.CopyTo(p.BiasIh(0, 0));
            if (p.BiasMode == LstmBiasMode.Separate)
            {
                b.CopyTo(p.BiasHh(0, 0));
            }
        }

        double ww = w.Sum(v => (double)v * v), bb = b.Sum(v => (double)v * v);
        Check.Near(Math.Sqrt(ww + (2 * bb)), Gradients.GlobalNorm(separate, default), 1e-6, "separate norm", 0);
        Check.Near(Math.Sqrt(ww + bb), Gradients.GlobalNorm(summed, default), 1e-6, "summed norm", 0);
        float[] extra = [3f];
        float before = Gradients.ClipByGlobalNorm(separate, extra, 1f);
        Check.Near(Math.Sqrt(ww + (2 * bb) + 9), before, 1e-5, "norm before clipping", 0);
        Check.Near(1.0, Gradients.GlobalNorm(separate, extra), 1e-6, "norm after clipping", 0);
        Gradients.Clear(separate);
        Assert.Equal(0f, Gradients.GlobalNorm(separate, default));
    }

    /// <summary>Adam over a stack is Kernels.AdamUpdate over its values, step counts and reset included.</summary>
    [Fact]
    public void AdamOptimizer_Stack_IsTheKernelOverTheValues()
    {
        LstmStackParameters p = LstmTrainerTests.RandomStack(3, 4, 2, 2, 2, LstmBiasMode.Separate, 1);
        float[] expected = p.Values.ToArray(), m = new float[expected.Length], v = new float[expected.Length];
        LstmStackParameters g = p.CreateGradient();
        Generators.Fill(g.Values.Length, Dist.Unit, 2).CopyTo(g.Values);
        var adam = new AdamOptimizer(p, 0.01f);
        for (int t = 1; t <= 3; t++)
        {
            adam.Update(g);
            Kernels.AdamUpdate(0.01f, 0.9f, 0.999f, 1e-8f, t, g.Values, m, v, expected);
        }

        Check.BitwiseEqual(expected, p.Values, "values after 3 steps");
        Assert.Equal(3, adam.StepCount);
        adam.Reset();
        Assert.Equal(0, adam.StepCount);
    }

    [Fact]
    public void LstmStackParameters_Throws()
    {
        Check.Throws<ArgumentOutOfRangeException>("inputSize", () => _ = new LstmStackParameters(0, 3, 1, 1, 0, LstmBiasMode.Separate));
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => _ = new LstmStackParameters(2, 0, 1, 1, 0, LstmBiasMode.Separate));
        Check.Throws<ArgumentOutOfRangeException>("layers", () => _ = new LstmStackParameters(2, 3, 0, 1, 0, LstmBiasMode.Separate));
        Check.Throws<ArgumentOutOfRangeException>("directions", () => _ = new LstmStackParameters(2, 3, 1, 3, 0, LstmBiasMode.Separate));
        Check.Throws<ArgumentOutOfRangeException>("projectionSize", () => _ = new LstmStackParameters(2, 3, 1, 1, 3, LstmBiasMode.Separate));
        Check.Throws<ArgumentOutOfRangeException>("biasMode", () => _ = new LstmStackParameters(2, 3, 1, 1, 0, (LstmBiasMode)7));
        var p = new LstmStackParameters(2, 3, 2, 1, 0, LstmBiasMode.Summed);
        Check.Throws<ArgumentException>("name", () => p.Tensor("bias_hh_l0"));
        Assert.Throws<ArgumentNullException>(() => p.Tensor(null!));
        Check.Throws<ArgumentOutOfRangeException>("layer", () => p.WeightIh(2, 0));
        Check.Throws<ArgumentOutOfRangeException>("direction", () => p.BiasIh(0, 1));
        Check.Throws<ArgumentException>("options", () => p.ToLstm(new LstmOptions { Direction = LstmDirection.Bidirectional }));
        LstmParameters cell = LstmParameters.CreateRandom(2, 3, 1);
        Check.Throws<ArgumentException>("cells", () => LstmStackParameters.FromCells([cell, cell], 1, LstmBiasMode.Summed));
        Check.Throws<ArgumentException>("cells", () => LstmStackParameters.FromCells([cell], 1, LstmBiasMode.None));
        Check.Throws<ArgumentException>("cells", () => LstmStackParameters.FromCells([cell], 2, LstmBiasMode.Summed));
        Check.Throws<ArgumentException>("cells", () => LstmStackParameters.FromCells([new LstmParameters(2, 3, peepholes: true)], 1, LstmBiasMode.Summed));
        Check.Throws<ArgumentOutOfRangeException>("directions", () => LstmStackParameters.FromCells([cell], 0, LstmBiasMode.Summed));
        Assert.Throws<ArgumentNullException>(() => LstmStackParameters.FromCells(null!, 1, LstmBiasMode.Summed));
        Check.Throws<ArgumentException>("cells", () => LstmStackParameters.FromProjectedCells([new ProjectedLstmParameters(2, 3, 1), new ProjectedLstmParameters(2, 3, 1)], 1, LstmBiasMode.Summed));

        var sgd = new SgdOptimizer(p, 0.1f);
        Check.Throws<ArgumentException>("gradient", () => sgd.Update(new LstmStackParameters(2, 3, 2, 1, 0, LstmBiasMode.Separate)));
        Assert.Contains("Update(LstmStackParameters", Assert.Throws<InvalidOperationException>(() => sgd.Update(new LstmParameters(2, 3))).Message, StringComparison.Ordinal);
        Assert.Contains("Update(LstmParameters", Assert.Throws<InvalidOperationException>(() => new SgdOptimizer(cell, 0.1f).Update(p.CreateGradient())).Message, StringComparison.Ordinal);
        Check.Throws<ArgumentOutOfRangeException>("momentum", () => _ = new SgdOptimizer(p, 0.1f, 1f));
        var adam = new AdamOptimizer(p);
        Check.Throws<ArgumentException>("gradient", () => adam.Update(new LstmStackParameters(2, 3, 1, 1, 0, LstmBiasMode.Summed)));
        Assert.Contains("Update(LstmStackParameters", Assert.Throws<InvalidOperationException>(() => adam.Update(new LstmParameters(2, 3))).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => new AdamOptimizer(cell).Update(p.CreateGradient()));
        Check.Throws<ArgumentOutOfRangeException>("beta2", () => _ = new AdamOptimizer(p, 1e-3f, 0.9f, 1f));
        Check.Throws<ArgumentOutOfRangeException>("maxNorm", () => Gradients.ClipByGlobalNorm(p, default, 0f));
        Assert.Throws<ArgumentNullException>(() => Gradients.GlobalNorm((LstmStackParameters)null!, default));
    }
}
