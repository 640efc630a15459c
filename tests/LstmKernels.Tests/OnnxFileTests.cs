using System.Globalization;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Google.Protobuf;
using LstmKernels.Interop;
using LstmKernels.Interop.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace LstmKernels.Tests;

/// <summary>One generated LSTM for the ONNX writer: shapes, options and data.</summary>
public sealed record OnnxWriteConfig(
    int Input, int Hidden, int Layers, LstmDirection Direction, bool BatchFirst, bool Bias, bool Peepholes, float? Clip, bool InputForget,
    LstmActivation Gate, LstmActivation Cell, LstmActivation Output, WeightPrecision Precision, int Batch, int Steps, int Seed)
{
    public bool IsPlain => !Peepholes && Clip is null && !InputForget && Gate == LstmActivation.Sigmoid && Cell == LstmActivation.Tanh && Output == LstmActivation.Tanh;
}

/// <summary>
/// <see cref="OnnxFile"/>: the fixtures that PyTorch 1.13.1's torch.onnx.export and onnx.helper wrote (Fixtures/onnx,
/// made by make_onnx_fixtures.py) load in one call and compute PyTorch's (or the ONNX equations') outputs; what
/// <see cref="OnnxFile.Write"/> writes runs in ONNX Runtime to the LSTM's outputs and reads back to the same weights
/// bit for bit; graphs that change the math are refused naming the node; external data stays in the model's folder.
/// </summary>
[Properties(Arbitrary = [typeof(OnnxFileTests)], MaxTest = 40)]
public sealed class OnnxFileTests
{
    /// <summary>
    /// Fixtures against PyTorch (float32) or the float64 ONNX equations: PyTorch-initialised or unit-scale weights,
    /// inputs N(0, 1), at most 2 layers of H ≤ 6 over T ≤ 5 steps, every value of y, h, c within 2e-6 absolute. The two
    /// float32 implementations differ by a few ulps of values ≤ 1 per step: measured at most 2.4e-7 (the Keras-style
    /// fixture, against float64), ONNX Runtime likewise.
    /// </summary>
    private const double FixtureAtol = 2e-6;

    /// <summary>
    /// ONNX Runtime against the LSTM: within 1e-5 absolute, relative for values above 1 (Relu cells grow), with weights
    /// at PyTorch's initial scale U(−1/√H, 1/√H) and inputs and states U(−1, 1), up to 3 layers of H ≤ 17 over 5 steps.
    /// (With unit-scale weights, 3 layers of H = 16 with tanh gates differ by up to 1.06e-5: float32 sums in another order.)
    /// </summary>
    private const double OrtTolerance = 1e-5;

    public static TheoryData<string> Fixtures
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (string file in Directory.GetFiles(FixtureFolder, "*.onnx").Order(StringComparer.Ordinal))
            {
                string name = Path.GetFileNameWithoutExtension(file);
                if (!name.StartsWith("refused_", StringComparison.Ordinal))
                {
                    data.Add(name);
                }
            }

            return data;
        }
    }

    private static string FixtureFolder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx");

    public static Arbitrary<OnnxWriteConfig> Configs() =>
        Arb.From(
            from input in Gen.Choose(1, 9)
            from hidden in Gen.OneOf(Gen.Choose(1, 8), Gen.Elements(16, 17))
            from layers in Gen.Choose(1, 3)
            from direction in Gen.Elements(LstmDirection.Forward, LstmDirection.Reverse, LstmDirection.Bidirectional)
            from batchFirst in Gen.Elements(false, true)
            from bias in Gen.Elements(true, true, false)
            from peepholes in Gen.Elements(false, false, true)
            from clip in Gen.Elements<float?>(null, null, null, 0.7f, 3f)
            from inputForget in Gen.Elements(false, false, false, true)
            from gate in Gen.Elements(LstmActivation.Sigmoid, LstmActivation.Sigmoid, LstmActivation.Sigmoid, LstmActivation.Tanh)
            from cell in Gen.Elements(LstmActivation.Tanh, LstmActivation.Tanh, LstmActivation.Tanh, LstmActivation.Relu)
            from output in Gen.Elements(LstmActivation.Tanh, LstmActivation.Tanh, LstmActivation.Tanh, LstmActivation.Sigmoid)
            from precision in Gen.Elements(WeightPrecision.Float32, WeightPrecision.Float32, WeightPrecision.BFloat16, WeightPrecision.Int8)
            from batch in Gen.Choose(1, 4)
            from steps in Gen.Choose(1, 5)
            from seed in Generators.Seed
            select new OnnxWriteConfig(input, hidden, layers, direction, batchFirst, bias, peepholes, clip, inputForget, gate, cell, output, precision, batch, steps, seed));

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ReadLstm_Fixture_MatchesItsOutputs(string name)
    {
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureFolder, name + ".json")));
        JsonElement f = json.RootElement;
        Lstm lstm = OnnxFile.ReadLstm(Path.Combine(FixtureFolder, name + ".onnx"));
        Assert.Equal(f.GetProperty("layers").GetInt32(), lstm.Layers);
        Assert.Equal(f.GetProperty("directions").GetInt32(), lstm.Directions);
        Assert.Equal(f.GetProperty("hidden").GetInt32(), lstm.HiddenSize);
        Assert.Equal(f.GetProperty("input").GetInt32(), lstm.InputSize);
        Assert.Equal(f.GetProperty("batchFirst").GetBoolean(), lstm.Options.BatchFirst);
        Assert.Equal(f.GetProperty("bias").GetBoolean(), lstm.Options.Bias);

        int batch = f.GetProperty("batch").GetInt32();
        float[] x = Floats(f, "x"), h0 = Floats(f, "h0"), c0 = Floats(f, "c0");
        int[] lengths = f.TryGetProperty("sequenceLengths", out JsonElement l) ? l.EnumerateArray().Select(e => e.GetInt32()).ToArray() : [];
        float[] expectedY = Floats(f, "y"), expectedH = Floats(f, "h"), expectedC = Floats(f, "c");
        float[] y = new float[expectedY.Length], h = new float[expectedH.Length], c = new float[expectedC.Length];
        lstm.Forward(batch, x, h0, c0, y, h, c, lengths);
        for (int k = 0; k < y.Length; k++)
        {
            Check.Near(expectedY[k], y[k], FixtureAtol, name + " y", k);
        }

        for (int k = 0; k < h.Length; k++)
        {
            Check.Near(expectedH[k], h[k], FixtureAtol, name + " h", k);
            Check.Near(expectedC[k], c[k], FixtureAtol, name + " c", k);
        }

        // The same bytes read from memory give the same LSTM, unless their tensors are in a side file that only a path finds.
        byte[] bytes = File.ReadAllBytes(Path.Combine(FixtureFolder, name + ".onnx"));
        if (File.Exists(Path.Combine(FixtureFolder, name + ".weights")))
        {
            Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(bytes));
        }
        else
        {
            AssertSameWeights(lstm, OnnxFile.ReadLstm(bytes));
        }
    }

    /// <summary>PyTorch's model, read and written again, runs in ONNX Runtime to PyTorch's outputs (a zero state where the fixture has none).</summary>
    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ReadLstm_ThenWrite_RunsInOnnxRuntimeToTheFixturesOutputs(string name)
    {
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureFolder, name + ".json")));
        JsonElement f = json.RootElement;
        if (f.TryGetProperty("sequenceLengths", out _))
        {
            return; // Write has no sequence_lens input; this fixture's lengths are checked by ReadLstm_Fixture_MatchesItsOutputs.
        }

        Lstm lstm = OnnxFile.ReadLstm(Path.Combine(FixtureFolder, name + ".onnx"));
        byte[] model = OnnxFile.Write(lstm);
        if (!lstm.Options.Bias)
        {
            Assert.DoesNotContain(ModelOf(model).Graph.Initializer, t => t.Name.StartsWith('B'));
            Assert.False(OnnxFile.ReadLstm(model).Options.Bias);
        }

        int batch = f.GetProperty("batch").GetInt32();
        int[] xShape = f.GetProperty("xShape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] stateShape = [lstm.Layers * lstm.Directions, batch, lstm.HiddenSize];
        float[] h0 = Floats(f, "h0"), c0 = Floats(f, "c0");
        h0 = h0.Length == 0 ? new float[stateShape[0] * batch * stateShape[2]] : h0;
        c0 = c0.Length == 0 ? new float[h0.Length] : c0;
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(Floats(f, "x"), xShape)),
            NamedOnnxValue.CreateFromTensor("h0", new DenseTensor<float>(h0, stateShape)),
            NamedOnnxValue.CreateFromTensor("c0", new DenseTensor<float>(c0, stateShape)),
        ]);
        foreach ((string output, string key) in (ReadOnlySpan<(string, string)>)[("y", "y"), ("h", "h"), ("c", "c")])
        {
            float[] got = results.First(o => o.Name == output).AsTensor<float>().ToArray(), expected = Floats(f, key);
            Assert.Equal(expected.Length, got.Length);
            for (int k = 0; k < got.Length; k++)
            {
                Check.Near(expected[k], got[k], FixtureAtol, name + " ONNX Runtime " + output, k);
            }
        }
    }

    [Fact]
    public void ReadLstm_Float16Bfloat16AndDoubleInitializers_AreConverted()
    {
        Lstm lstm = Create(new OnnxWriteConfig(3, 4, 1, LstmDirection.Forward, false, true, false, null, false, LstmActivation.Sigmoid, LstmActivation.Tanh, LstmActivation.Tanh, WeightPrecision.Float32, 1, 1, 9));
        ModelProto model = ModelOf(OnnxFile.Write(lstm));
        float[] Values(string name) => Enumerable.Range(0, model.Graph.Initializer.First(t => t.Name == name).RawData.Length / 4)
            .Select(k => BitConverter.ToSingle(model.Graph.Initializer.First(t => t.Name == name).RawData.Span.Slice(4 * k, 4))).ToArray();
        float[] w = Values("W_l0"), r = Values("R_l0"), b = Values("B_l0");

        // W as float16 raw_data, R as bfloat16 in int32_data, B as double_data.
        TensorProto wt = model.Graph.Initializer.First(t => t.Name == "W_l0");
        wt.DataType = (int)TensorProto.Types.DataType.Float16;
        wt.RawData = ByteString.CopyFrom(w.SelectMany(v => BitConverter.GetBytes((Half)v)).ToArray());
        TensorProto rt = model.Graph.Initializer.First(t => t.Name == "R_l0");
        rt.DataType = (int)TensorProto.Types.DataType.Bfloat16;
        rt.RawData = ByteString.Empty;
        rt.Int32Data.Add(r.Select(v => BitConverter.SingleToInt32Bits(v) >>> 16));
        TensorProto bt = model.Graph.Initializer.First(t => t.Name == "B_l0");
        bt.DataType = (int)TensorProto.Types.DataType.Double;
        bt.RawData = ByteString.Empty;
        bt.DoubleData.Add(b.Select(v => (double)v));

        float[] wHalf = w.Select(v => (float)(Half)v).ToArray();
        float[] rBrain = r.Select(v => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) & unchecked((int)0xFFFF0000))).ToArray();
        Lstm expected = OnnxLayout.CreateLstm(4, wHalf, rBrain, b, default);
        AssertSameWeights(expected, OnnxFile.ReadLstm(model.ToByteArray()));
    }

    [Fact]
    public void ReadLstm_Options_SetPrecisionAndThreadsOnly()
    {
        string path = Path.Combine(FixtureFolder, "torch_2layer_opset11.onnx");
        Lstm lstm = OnnxFile.ReadLstm(path, new LstmOptions { Precision = WeightPrecision.BFloat16, StepThreads = 2 });
        Assert.Equal(WeightPrecision.BFloat16, lstm.Options.Precision);
        Assert.Equal(2, lstm.Options.StepThreads);
        Assert.Equal(2, lstm.Layers);
        Assert.Throws<ArgumentException>("options", () => OnnxFile.ReadLstm(path, new LstmOptions { BatchFirst = true }));

        // A reduced precision cannot run peepholes and clip: the caller's options are at fault, not the file.
        string peepholes = Path.Combine(FixtureFolder, "single_node_keras_style_peepholes.onnx");
        Assert.Throws<ArgumentException>("options", () => OnnxFile.ReadLstm(peepholes, new LstmOptions { Precision = WeightPrecision.Int8 }));
    }

    [Property]
    public void Write_RunsInOnnxRuntimeToTheLstmsOutputs(OnnxWriteConfig config)
    {
        Lstm lstm = Create(config);
        byte[] model = OnnxFile.Write(lstm);
        int d = lstm.Directions, h = lstm.HiddenSize, b = config.Batch, t = config.Steps, states = lstm.Layers * d * b * h;
        float[] x = Generators.Fill(t * b * config.Input, Dist.Unit, config.Seed + 1);
        float[] h0 = Generators.Fill(states, Dist.Unit, config.Seed + 2), c0 = Generators.Fill(states, Dist.Unit, config.Seed + 3);
        float[] y = new float[t * b * d * h], hT = new float[states], cT = new float[states];
        lstm.Forward(b, x, h0, c0, y, hT, cT);

        int[] xShape = config.BatchFirst ? [b, t, config.Input] : [t, b, config.Input], stateShape = [lstm.Layers * d, b, h];
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, xShape)),
            NamedOnnxValue.CreateFromTensor("h0", new DenseTensor<float>(h0, stateShape)),
            NamedOnnxValue.CreateFromTensor("c0", new DenseTensor<float>(c0, stateShape)),
        ]);
        string what = config.ToString();
        Compare(results.First(o => o.Name == "y").AsTensor<float>().ToArray(), y, what + " y");
        Compare(results.First(o => o.Name == "h").AsTensor<float>().ToArray(), hT, what + " h");
        Compare(results.First(o => o.Name == "c").AsTensor<float>().ToArray(), cT, what + " c");
    }

    [Property]
    public void Write_ThenReadLstm_GivesTheSameWeightsBitForBit(OnnxWriteConfig config)
    {
        Lstm lstm = Create(config with { Precision = WeightPrecision.Float32 });
        Lstm back = OnnxFile.ReadLstm(OnnxFile.Write(lstm));
        AssertSameWeights(lstm, back);
        Assert.Equal(lstm.Options, back.Options);
    }

    [Fact]
    public void WriteFile_ThenReadLstm_RoundTrips()
    {
        Lstm lstm = Create(new OnnxWriteConfig(3, 4, 2, LstmDirection.Bidirectional, true, true, false, null, false, LstmActivation.Sigmoid, LstmActivation.Tanh, LstmActivation.Tanh, WeightPrecision.Float32, 2, 3, 5));
        string folder = Directory.CreateTempSubdirectory("lstmkernels-onnx-").FullName;
        try
        {
            string path = Path.Combine(folder, "model.onnx");
            OnnxFile.WriteFile(lstm, path);
            AssertSameWeights(lstm, OnnxFile.ReadLstm(path));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("forward", 0, false, false)]
    [InlineData("reverse", 0, true, true)]
    [InlineData("bidirectional", 0, true, false)]
    [InlineData("bidirectional", 1, false, true)]
    public void ReadLstm_SingleNodeGraph_GivesOnnxLayoutsWeights(string direction, int layout, bool lengths, bool state)
    {
        // The tests' and benchmarks' single-node writer (initializers W, R, B, P; X, sequence_lens, initial states as graph inputs).
        int d = direction == "bidirectional" ? 2 : 1, h = 5, i = 3;
        var model = new LstmKernels.Testing.OnnxLstmModel
        {
            InputSize = i,
            HiddenSize = h,
            Direction = direction,
            Layout = layout,
            Clip = 2f,
            W = Generators.Fill(d * 4 * h * i, Dist.Unit, 1),
            R = Generators.Fill(d * 4 * h * h, Dist.Unit, 2),
            B = Generators.Fill(d * 8 * h, Dist.Unit, 3),
            P = Generators.Fill(d * 3 * h, Dist.Unit, 4),
            WithSequenceLengths = lengths,
            WithInitialState = state,
        };
        Lstm read = OnnxFile.ReadLstm(model.ToBytes());
        var options = new LstmOptions
        {
            Direction = direction switch { "reverse" => LstmDirection.Reverse, "bidirectional" => LstmDirection.Bidirectional, _ => LstmDirection.Forward },
            BatchFirst = layout == 1,
            Clip = 2f,
        };
        Lstm expected = OnnxLayout.CreateLstm(h, model.W, model.R, model.B, model.P, options);
        AssertSameWeights(expected, read);
        Assert.Equal(expected.Options, read.Options);
    }

    [Fact]
    public void Write_Projections_Throw() =>
        Assert.Throws<ArgumentException>("lstm", () => OnnxFile.Write(Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(2, 3, 2, 1)])));

    [Fact]
    public void ReadLstm_AnOperatorThatChangesTheMath_IsRefusedNamingTheNode()
    {
        ModelProto model = ModelOf(OnnxFile.Write(Lstm.Create([LstmParameters.CreateRandom(2, 3, 1)])));
        // y = Add(y_lstm, y_lstm): the output is no longer the LSTM's.
        foreach (NodeProto n in model.Graph.Node)
        {
            for (int k = 0; k < n.Output.Count; k++)
            {
                if (n.Output[k] == "y")
                {
                    n.Output[k] = "y_lstm";
                }
            }
        }

        model.Graph.Node.Add(new NodeProto { Name = "double_it", OpType = "Add", Input = { "y_lstm", "y_lstm" }, Output = { "y" } });
        var e = Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(model.ToByteArray()));
        Assert.Contains("'double_it'", e.Message, StringComparison.Ordinal);
        Assert.Contains("(Add)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadLstm_PyTorchModelWithALinearHead_IsRefusedNamingTheMatMul()
    {
        var e = Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(Path.Combine(FixtureFolder, "refused_torch_linear_head_opset14.onnx")));
        Assert.Contains("node '/fc/MatMul' (MatMul)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadLstm_RefusesWhatTheLstmCannotCompute()
    {
        byte[] plain = OnnxFile.Write(Lstm.Create([LstmParameters.CreateRandom(2, 3, 1), LstmParameters.CreateRandom(3, 3, 2)]));

        // An activation the library does not have.
        ModelProto hard = ModelOf(plain);
        foreach (NodeProto n in hard.Graph.Node.Where(n => n.OpType == "LSTM"))
        {
            var a = new AttributeProto { Name = "activations", Type = AttributeProto.Types.AttributeType.Strings };
            a.Strings.Add([ByteString.CopyFromUtf8("HardSigmoid"), ByteString.CopyFromUtf8("Tanh"), ByteString.CopyFromUtf8("Tanh")]);
            n.Attribute.Add(a);
        }

        Assert.Contains("HardSigmoid", Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(hard.ToByteArray())).Message, StringComparison.Ordinal);

        // The second layer reads the first layer's states instead of its output.
        ModelProto crossed = ModelOf(plain);
        NodeProto second = crossed.Graph.Node.First(n => n.Name == "LSTM_l1");
        second.Input[0] = "Y_h_l0";
        Assert.Contains("'LSTM_l1' (LSTM)", Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(crossed.ToByteArray())).Message, StringComparison.Ordinal);

        // A non-zero stored initial state.
        ModelProto stored = ModelOf(OnnxFile.Write(Lstm.Create([LstmParameters.CreateRandom(2, 3, 1)])));
        stored.Graph.Input.RemoveAt(1);
        stored.Graph.Initializer.Add(FloatTensor("h0", [1, 1, 3], [1f, 2f, 3f]));
        Assert.Contains("initial_h", Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(stored.ToByteArray())).Message, StringComparison.Ordinal);

        // Initial states with their batch and hidden axes swapped.
        ModelProto swapped = ModelOf(plain);
        swapped.Graph.Node.Insert(0, new NodeProto { Name = "swap_h0", OpType = "Transpose", Input = { "h0" }, Output = { "h0_swapped" }, Attribute = { new AttributeProto { Name = "perm", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0, 2, 1 } } } });
        foreach (NodeProto n in swapped.Graph.Node.Where(n => n.OpType == "Slice"))
        {
            n.Input[0] = n.Input[0] == "h0" ? "h0_swapped" : n.Input[0];
        }

        Assert.Contains("initial_h", Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(swapped.ToByteArray())).Message, StringComparison.Ordinal);

        // The sequence with its first step cut off.
        ModelProto cut = ModelOf(plain);
        cut.Graph.Initializer.Add(IntTensor("one", [1]));
        cut.Graph.Initializer.Add(IntTensor("big", [long.MaxValue]));
        cut.Graph.Initializer.Add(IntTensor("zero", [0]));
        cut.Graph.Node.Insert(0, new NodeProto { Name = "skip_first", OpType = "Slice", Input = { "x", "one", "big", "zero" }, Output = { "x_cut" } });
        cut.Graph.Node.First(n => n.Name == "LSTM_l0").Input[0] = "x_cut";
        Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(cut.ToByteArray()));

        // Another operator domain.
        ModelProto domain = ModelOf(plain);
        domain.Graph.Node[0].Domain = "com.microsoft";
        Assert.Contains("com.microsoft", Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(domain.ToByteArray())).Message, StringComparison.Ordinal);

        // An output that mixes hidden units and directions (Transpose of [D, H] to [H, D] before the Reshape).
        ModelProto mixed = ModelOf(OnnxFile.Write(Lstm.Create([LstmParameters.CreateRandom(2, 3, 1), LstmParameters.CreateRandom(2, 3, 2)], new LstmOptions { Direction = LstmDirection.Bidirectional })));
        NodeProto transpose = mixed.Graph.Node.First(n => n.OpType == "Transpose");
        transpose.Attribute[0].Ints.Clear();
        transpose.Attribute[0].Ints.Add([0, 2, 3, 1]);
        Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(mixed.ToByteArray()));
    }

    [Fact]
    public void ReadLstm_ExternalData_OnlyFromTheModelsFolder()
    {
        Lstm lstm = Lstm.Create([LstmParameters.CreateRandom(2, 3, 1)]);
        string root = Directory.CreateTempSubdirectory("lstmkernels-onnx-ext-").FullName;
        try
        {
            string folder = Directory.CreateDirectory(Path.Combine(root, "model")).FullName;
            ModelProto model = ModelOf(OnnxFile.Write(lstm));
            TensorProto w = model.Graph.Initializer.First(t => t.Name == "W_l0");
            byte[] data = [.. new byte[16], .. w.RawData.ToByteArray()];
            File.WriteAllBytes(Path.Combine(folder, "weights.bin"), data);
            File.WriteAllBytes(Path.Combine(root, "outside.bin"), data);
            w.RawData = ByteString.Empty;
            w.DataLocation = TensorProto.Types.DataLocation.External;

            void Locate(string location, long offset)
            {
                w.ExternalData.Clear();
                w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
                w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
                File.WriteAllBytes(Path.Combine(folder, "model.onnx"), model.ToByteArray());
            }

            Locate("weights.bin", 16);
            AssertSameWeights(lstm, OnnxFile.ReadLstm(Path.Combine(folder, "model.onnx")));
            Assert.Contains("ReadLstm(path)", Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(model.ToByteArray())).Message, StringComparison.Ordinal);

            foreach (string escape in (string[])["../outside.bin", Path.Combine(root, "outside.bin"), "sub/../../outside.bin"])
            {
                Locate(escape, 16);
                Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(Path.Combine(folder, "model.onnx")));
            }

            if (!OperatingSystem.IsWindows())
            {
                File.CreateSymbolicLink(Path.Combine(folder, "link.bin"), Path.Combine(root, "outside.bin"));
                Locate("link.bin", 16);
                Assert.Contains("link", Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(Path.Combine(folder, "model.onnx"))).Message, StringComparison.Ordinal);

                // A directory link on the way out, and a link that stays inside (read).
                Directory.CreateSymbolicLink(Path.Combine(folder, "up"), root);
                Locate("up/outside.bin", 16);
                Assert.Contains("link", Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(Path.Combine(folder, "model.onnx"))).Message, StringComparison.Ordinal);
                File.CreateSymbolicLink(Path.Combine(folder, "inside.bin"), Path.Combine(folder, "weights.bin"));
                Locate("inside.bin", 16);
                AssertSameWeights(lstm, OnnxFile.ReadLstm(Path.Combine(folder, "model.onnx")));
            }

            // Offsets beyond the file, and a length that does not match the dims.
            Locate("weights.bin", 1 << 20);
            Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(Path.Combine(folder, "model.onnx")));
            Locate("weights.bin", 20);
            Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(Path.Combine(folder, "model.onnx")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void ReadLstm_HugeDeclaredSizes_AreRejectedWithoutHugeAllocations()
    {
        ModelProto model = ModelOf(OnnxFile.Write(Lstm.Create([LstmParameters.CreateRandom(2, 3, 1)])));
        TensorProto w = model.Graph.Initializer.First(t => t.Name == "W_l0");
        w.Dims.Clear();
        w.Dims.Add([1, 1_000_000_000, 2]);
        AssertRejectedCheaply(model.ToByteArray());

        w.Dims.Clear();
        w.Dims.Add([1L << 40, 1L << 40]);
        AssertRejectedCheaply(model.ToByteArray());

        // A ConstantOfShape that would fill a billion values, feeding W.
        ModelProto filled = ModelOf(OnnxFile.Write(Lstm.Create([LstmParameters.CreateRandom(2, 3, 1)])));
        filled.Graph.Initializer.Remove(filled.Graph.Initializer.First(t => t.Name == "W_l0"));
        filled.Graph.Initializer.Add(IntTensor("big_shape", [1, 12, 1_000_000_000]));
        var fill = new NodeProto { Name = "fill", OpType = "ConstantOfShape", Input = { "big_shape" }, Output = { "W_l0" } };
        fill.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = FloatTensor("v", [1], [1f]) });
        filled.Graph.Node.Insert(0, fill);
        AssertRejectedCheaply(filled.ToByteArray());
    }

    /// <summary>
    /// Graphs mutated as messages rather than bytes (nodes removed, reordered or retyped, inputs rewired, attributes,
    /// constants, dims and data types changed): every read either succeeds or throws InvalidDataException, with bounded
    /// allocation.
    /// </summary>
    [Theory]
    [InlineData("torch_2layer_bidirectional_batchfirst_opset17", 1)]
    [InlineData("torch_nobias_2layer_opset12", 2)]
    [InlineData("torch_2layer_opset11", 3)]
    [InlineData("single_node_layout1_bidirectional_typed", 4)]
    public void ReadLstm_StructurallyMutatedGraphs_ThrowOnlyInvalidData(string name, int seed)
    {
        byte[] valid = File.ReadAllBytes(Path.Combine(FixtureFolder, name + ".onnx"));
        string[] ops = ["Identity", "Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Transpose", "Reshape", "ConstantOfShape", "Expand", "Cast", "LSTM", "Add"];
#pragma warning disable CA5394 // Test data.
        var random = new Random(seed);
        int rejected = 0;
        for (int n = 0; n < 1500; n++)
        {
            ModelProto model = ModelOf(valid);
            GraphProto g = model.Graph;
            var names = g.Node.SelectMany(x => x.Output).Concat(g.Initializer.Select(t => t.Name)).Concat(g.Input.Select(i => i.Name)).Append(string.Empty).ToArray();
            for (int m = random.Next(1, 3); m > 0; m--)
            {
                NodeProto node = g.Node[random.Next(g.Node.Count)];
                switch (random.Next(10))
                {
                    case 0:
                        g.Node.Remove(node);
                        break;
                    case 1 when node.Input.Count > 0:
                        node.Input[random.Next(node.Input.Count)] = names[random.Next(names.Length)];
                        break;
                    case 2 when node.Attribute.Count > 0:
                        AttributeProto a = node.Attribute[random.Next(node.Attribute.Count)];
                        a.I = random.Next(-3, 10);
                        if (a.Ints.Count > 0)
                        {
                            a.Ints[random.Next(a.Ints.Count)] = random.Next(-4, 5);
                        }

                        a.F = (float)(random.NextDouble() * 4) - 1;
                        break;
                    case 3 when node.Attribute.Count > 0 && node.Attribute[0].T is { } t:
                        if (t.Int64Data.Count > 0)
                        {
                            t.Int64Data[random.Next(t.Int64Data.Count)] = random.Next(3) == 0 ? long.MaxValue : random.Next(-5, 6);
                        }
                        else if (t.RawData.Length > 0)
                        {
                            byte[] raw = t.RawData.ToByteArray();
                            raw[random.Next(raw.Length)] = (byte)random.Next(256);
                            t.RawData = ByteString.CopyFrom(raw);
                        }

                        break;
                    case 4 when g.Initializer.Count > 0:
                        TensorProto init = g.Initializer[random.Next(g.Initializer.Count)];
                        if (init.Dims.Count > 0 && random.Next(2) == 0)
                        {
                            init.Dims[random.Next(init.Dims.Count)] = random.Next(0, 40);
                        }
                        else
                        {
                            init.Dims.Add(random.Next(1, 3));
                        }

                        break;
                    case 5:
                        node.OpType = ops[random.Next(ops.Length)];
                        break;
                    case 6:
                        int k = g.Node.IndexOf(node), other = random.Next(g.Node.Count);
                        (g.Node[k], g.Node[other]) = (g.Node[other], g.Node[k]);
                        break;
                    case 7 when g.Initializer.Count > 0:
                        g.Initializer[random.Next(g.Initializer.Count)].DataType = random.Next(0, 17);
                        break;
                    case 8 when g.Input.Count > 0 && g.Input[0].Type?.TensorType?.Shape is { } shape && shape.Dim.Count > 0:
                        if (random.Next(2) == 0)
                        {
                            shape.Dim.RemoveAt(random.Next(shape.Dim.Count));
                        }
                        else
                        {
                            shape.Dim[random.Next(shape.Dim.Count)] = new TensorShapeProto.Types.Dimension { DimValue = random.Next(1, 6) };
                        }

                        break;
                    default:
                        if (node.Output.Count > 0)
                        {
                            node.Output[random.Next(node.Output.Count)] = names[random.Next(names.Length)];
                        }

                        break;
                }
            }
#pragma warning restore CA5394

            byte[] bytes = model.ToByteArray();
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                OnnxFile.ReadLstm(bytes);
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation {n}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated <= (64L * bytes.Length) + (1 << 20), $"mutation {n}: a {bytes.Length}-byte model made the reader allocate {allocated} bytes");
        }

        Assert.True(rejected > 300, $"only {rejected} of 1500 mutations were rejected");
    }

    private static void AssertRejectedCheaply(byte[] bytes)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidDataException>(() => OnnxFile.ReadLstm(bytes));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated <= (64L * bytes.Length) + (1 << 20), $"a {bytes.Length}-byte model made the reader allocate {allocated} bytes");
    }

    internal static Lstm Create(OnnxWriteConfig c)
    {
        int d = c.Direction == LstmDirection.Bidirectional ? 2 : 1, h = c.Hidden;
        var cells = new List<LstmParameters>();
        for (int layer = 0; layer < c.Layers; layer++)
        {
            int input = layer == 0 ? c.Input : d * h;
            for (int dir = 0; dir < d; dir++)
            {
                int seed = c.Seed + (16 * ((layer * d) + dir));
                cells.Add(LstmParameters.FromOnnx(
                    input,
                    h,
                    Init(4 * h * input, h, seed + 4),
                    Init(4 * h * h, h, seed + 5),
                    c.Bias ? Init(8 * h, h, seed + 6) : default,
                    c.Peepholes ? Init(3 * h, h, seed + 7) : default));
            }
        }

        return Lstm.Create(cells, new LstmOptions
        {
            Direction = c.Direction,
            BatchFirst = c.BatchFirst,
            Bias = c.Bias,
            Clip = c.Clip,
            InputForget = c.InputForget,
            GateActivation = c.Gate,
            CellActivation = c.Cell,
            HiddenActivation = c.Output,
            Precision = c.IsPlain ? c.Precision : WeightPrecision.Float32,
        });
    }

    /// <summary>PyTorch's initialisation of nn.LSTM: U(−1/√H, 1/√H).</summary>
    private static float[] Init(int length, int hidden, int seed)
    {
        float[] values = Generators.Fill(length, Dist.Unit, seed);
        float k = 1 / MathF.Sqrt(hidden);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] *= k;
        }

        return values;
    }

    internal static void AssertSameWeights(Lstm expected, Lstm actual)
    {
        Assert.Equal(expected.Layers, actual.Layers);
        Assert.Equal(expected.Directions, actual.Directions);
        for (int layer = 0; layer < expected.Layers; layer++)
        {
            for (int dir = 0; dir < expected.Directions; dir++)
            {
                LstmParameters p = expected.GetParameters(layer, dir), q = actual.GetParameters(layer, dir);
                string at = $"layer {layer} direction {dir}";
                Check.BitwiseEqual(p.WeightIh, q.WeightIh, at + " WeightIh");
                Check.BitwiseEqual(p.WeightHh, q.WeightHh, at + " WeightHh");
                Check.BitwiseEqual(p.Bias, q.Bias, at + " Bias");
                Assert.Equal(p.HasPeepholes, q.HasPeepholes);
                Check.BitwiseEqual(p.Peepholes, q.Peepholes, at + " Peepholes");
            }
        }
    }

    private static void Compare(float[] ort, float[] ours, string what)
    {
        Assert.Equal(ours.Length, ort.Length);
        for (int k = 0; k < ort.Length; k++)
        {
            Check.Near(ort[k], ours[k], OrtTolerance * Math.Max(1, Math.Abs(ort[k])), what, k);
        }
    }

    private static float[] Floats(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement e) ? e.EnumerateArray().Select(v => v.GetSingle()).ToArray() : [];

    internal static ModelProto ModelOf(byte[] bytes) => ModelProto.Parser.ParseFrom(bytes);

    internal static TensorProto FloatTensor(string name, long[] dims, float[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.Add(dims);
        t.FloatData.Add(values);
        return t;
    }

    internal static TensorProto IntTensor(string name, long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.Add(values);
        return t;
    }
}
