using System.Buffers.Binary;
using System.Text;
using LstmKernels.Interop;

namespace LstmKernels.Tests;

/// <summary>Layout converters (LstmParameters.Interop.cs, OnnxLayout.cs) and file formats (SafetensorsFile, NpyFile, NpzFile, PyTorchStateDict).</summary>
public sealed class InteropTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(17, 16)]
    public void Converters_RoundTripExactly(int input, int hidden)
    {
        LstmParameters p = LstmParameters.CreateRandom(input, hidden, input + hidden);
        int rows = 4 * hidden;

        float[] w = new float[rows * input], r = new float[rows * hidden], b = new float[2 * rows];
        p.ToOnnx(w, r, b);
        AssertSame(p, LstmParameters.FromOnnx(input, hidden, w, r, b), "ONNX");

        float[] kernel = new float[input * rows], recurrent = new float[hidden * rows], kb = new float[rows];
        p.ToKeras(kernel, recurrent, kb);
        AssertSame(p, LstmParameters.FromKeras(input, hidden, kernel, recurrent, kb), "Keras");

        float[] wIh = new float[rows * input], wHh = new float[rows * hidden], bIh = new float[rows], bHh = new float[rows];
        p.ToPyTorch(wIh, wHh, bIh, bHh);
        AssertSame(p, LstmParameters.FromPyTorch(input, hidden, wIh, wHh, bIh, bHh), "PyTorch");

        int m = (hidden + input) * hidden;
        float[][] seed = [new float[m], new float[m], new float[m], new float[m], new float[hidden], new float[hidden], new float[hidden], new float[hidden]];
        p.ToSeed(seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7]);
        AssertSame(p, LstmParameters.FromSeed(input, hidden, seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7]), "seed");
    }

    /// <summary>Known positions: ONNX block order i, o, f, c and Keras' transposition, checked element by element.</summary>
    [Fact]
    public void Converters_MapTheDocumentedPositions()
    {
        const int I = 2, H = 3;
        float[] w = Enumerable.Range(0, 4 * H * I).Select(k => (float)k).ToArray();
        float[] r = Enumerable.Range(0, 4 * H * H).Select(k => 1000f + k).ToArray();
        float[] b = Enumerable.Range(0, 8 * H).Select(k => (float)(k < 4 * H ? k : 100 * (k - (4 * H)))).ToArray();
        LstmParameters p = LstmParameters.FromOnnx(I, H, w, r, b);
        int[] onnxBlock = [0, 2, 3, 1];
        for (int gate = 0; gate < 4; gate++)
        {
            for (int j = 0; j < H; j++)
            {
                int ours = (gate * H) + j, theirs = (onnxBlock[gate] * H) + j;
                Assert.Equal(w[(theirs * I) + 1], p.WeightIh[(ours * I) + 1]);
                Assert.Equal(r[(theirs * H) + 2], p.WeightHh[(ours * H) + 2]);
                Assert.Equal(b[theirs] + b[(4 * H) + theirs], p.Bias[ours]);
            }
        }

        float[] kernel = Enumerable.Range(0, I * 4 * H).Select(k => (float)k).ToArray();
        LstmParameters k2 = LstmParameters.FromKeras(I, H, kernel, new float[H * 4 * H], default);
        Assert.Equal(kernel[(1 * 4 * H) + 7], k2.WeightIh[(7 * I) + 1]);

        float[] peep = [1, 2, 3, 4, 5, 6], ours2 = new float[6], back = new float[6];
        OnnxLayout.PeepholesFromOnnx(peep, ours2);
        Assert.Equal([1f, 2f, 5f, 6f, 3f, 4f], ours2);
        OnnxLayout.PeepholesToOnnx(ours2, back);
        Assert.Equal(peep, back);
    }

    [Fact]
    public void Converters_Throw()
    {
        LstmParameters p = LstmParameters.CreateRandom(2, 3, 1);
        Check.Throws<ArgumentException>("w", () => LstmParameters.FromOnnx(2, 3, new float[5], new float[36], default));
        Check.Throws<ArgumentException>("b", () => LstmParameters.FromOnnx(2, 3, new float[24], new float[36], new float[12]));
        Check.Throws<ArgumentException>("b", () => LstmParameters.FromOnnx(2, 3, new float[24], new float[36], Enumerable.Repeat(float.MaxValue, 24).ToArray()));
        Check.Throws<ArgumentException>("kernel", () => LstmParameters.FromKeras(2, 3, [float.NaN, .. new float[23]], new float[36], default));
        Check.Throws<ArgumentException>("r", () => p.ToOnnx(new float[24], new float[35], new float[24]));
        Check.Throws<ArgumentException>("bias", () => p.ToKeras(new float[24], new float[36], new float[11]));
        Check.Throws<ArgumentException>("biasHh", () => p.ToPyTorch(new float[24], new float[36], new float[12], new float[11]));
        Check.Throws<ArgumentException>("bO", () => p.ToSeed(new float[15], new float[15], new float[15], new float[15], new float[3], new float[3], new float[3], new float[2]));
        Check.Throws<ArgumentException>("destination", () => OnnxLayout.PeepholesFromOnnx(new float[6], new float[3]));
    }

    [Fact]
    public void Safetensors_Npy_Npz_RoundTrip()
    {
        var a = new FloatTensor("weight_ih_l0", [8, 2], Generators.Fill(16, Dist.AnyFinite, 1));
        var s = new FloatTensor("scalar", [], [3.5f]);
        var e = new FloatTensor("empty", [0, 4], []);
        foreach (IReadOnlyDictionary<string, FloatTensor> read in (IReadOnlyDictionary<string, FloatTensor>[])[SafetensorsFile.Read(SafetensorsFile.Write([a, s, e])), NpzFile.Read(NpzFile.Write([a, s, e]))])
        {
            Assert.Equal(3, read.Count);
            foreach (FloatTensor t in (FloatTensor[])[a, s, e])
            {
                Assert.Equal(t.Shape.ToArray(), read[t.Name].Shape.ToArray());
                Check.BitwiseEqual(t.Data, read[t.Name].Data, t.Name);
            }
        }

        FloatTensor one = NpyFile.Read(NpyFile.Write(a));
        Check.BitwiseEqual(a.Data, one.Data, "npy");
    }

    /// <summary>The other dtypes and orders numpy and safetensors write: f8, big-endian f4, f2, Fortran order, BF16.</summary>
    [Fact]
    public void Readers_ConvertDtypesAndOrders()
    {
        float[] expected = [1, 2, 3, 4, 5, 6];
        byte[] f8 = Npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", expected.SelectMany(v => BitConverter.GetBytes((double)v)).ToArray());
        Assert.Equal(expected, NpyFile.Read(f8).Data.ToArray());
        byte[] be = Npy("{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", expected.SelectMany(v => { byte[] x = BitConverter.GetBytes(v); Array.Reverse(x); return x; }).ToArray());
        Assert.Equal(expected, NpyFile.Read(be).Data.ToArray());
        byte[] f2 = Npy("{'descr': '<f2', 'fortran_order': False, 'shape': (6,), }", expected.SelectMany(v => BitConverter.GetBytes((Half)v)).ToArray());
        Assert.Equal(expected, NpyFile.Read(f2).Data.ToArray());

        // Fortran order: the column-major data of [[1, 2, 3], [4, 5, 6]] is 1, 4, 2, 5, 3, 6.
        byte[] fortran = Npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", ((float[])[1, 4, 2, 5, 3, 6]).SelectMany(BitConverter.GetBytes).ToArray());
        Assert.Equal(expected, NpyFile.Read(fortran).Data.ToArray());

        byte[] bf16 = Safetensors("{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", [0x80, 0x3F, 0x00, 0x40]);
        Assert.Equal([1f, 2f], SafetensorsFile.Read(bf16)["x"].Data.ToArray());
    }

    public static TheoryData<string, string> BadSafetensors => new()
    {
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "need 8" },
        { "{\"x\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", "dtype" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", "non-negative" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99]}}", "outside" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", "unexpected" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "overlap" },
        { "{\"x\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536],\"data_offsets\":[0,8]}}", "more elements" },
        { "[1, 2]", "not a JSON object" },
        { "{\"x\":", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadSafetensors))]
    public void Safetensors_RejectsBadFiles(string header, string problem)
    {
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Read(Safetensors(header, new byte[8])));
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Safetensors_RejectsTruncationAndHugeHeaders()
    {
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Read(new byte[5])).Message, StringComparison.Ordinal);
        byte[] huge = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(huge, ulong.MaxValue);
        Assert.Contains("claims", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Read(huge)).Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadNpy => new()
    {
        { "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", "dtype" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", "needs 12" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999,), }", "dimension" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536, 65536), }", "more elements" },
        { "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "True or False" },
        { "{'descr': '<f4', 'shape': (2,), }", "needs 'descr'" },
        { "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "repeated" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", "after the dict" },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "belongs" },
    };

    [Theory]
    [MemberData(nameof(BadNpy))]
    public void Npy_RejectsBadFiles(string header, string problem)
    {
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => NpyFile.Read(Npy(header, new byte[8])));
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Npz_RejectsNonNpyEntriesAndZipBombs()
    {
        byte[] valid = NpzFile.Write([new FloatTensor("a", [1000], new float[1000])]);
        Assert.Contains("limit", Assert.Throws<InvalidDataException>(() => NpzFile.Read(valid, maxUncompressedBytes: 1000)).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => NpzFile.Read(Encoding.ASCII.GetBytes("not a zip at all")));
    }

    /// <summary>A PyTorch state_dict of a 2-layer bidirectional LSTM round-trips through safetensors and gives the same Lstm.</summary>
    [Fact]
    public void PyTorchStateDict_RoundTrip()
    {
        var cells = new[] { LstmParameters.CreateRandom(3, 4, 1), LstmParameters.CreateRandom(3, 4, 2), LstmParameters.CreateRandom(8, 4, 3), LstmParameters.CreateRandom(8, 4, 4) };
        var lstm = Lstm.Create(cells, new LstmOptions { Direction = LstmDirection.Bidirectional });
        IReadOnlyList<FloatTensor> tensors = PyTorchStateDict.FromLstm(lstm, "lstm.");
        Assert.Contains(tensors, t => t.Name == "lstm.weight_hh_l1_reverse");
        Lstm back = PyTorchStateDict.CreateLstm(SafetensorsFile.Read(SafetensorsFile.Write(tensors)), "lstm.");
        Assert.Equal((2, 2, 3, 4), (back.Layers, back.Directions, back.InputSize, back.HiddenSize));
        float[] x = Generators.Fill(5 * 2 * 3, Dist.Unit, 9), y1 = new float[5 * 2 * 8], y2 = new float[y1.Length];
        lstm.Forward(2, x, default, default, y1, default, default);
        back.Forward(2, x, default, default, y2, default, default);
        Check.BitwiseEqual(y1, y2, "y after the round trip");

        // A weight_hr beside a weight_hh of [4H, H] (not [4H, P]) is a wrong shape.
        var withProjection = tensors.ToDictionary(t => t.Name);
        withProjection["lstm.weight_hr_l0"] = new FloatTensor("lstm.weight_hr_l0", [2, 4], new float[8]);
        Assert.Contains("[4H, P]", Assert.Throws<InvalidDataException>(() => PyTorchStateDict.CreateLstm(withProjection, "lstm.")).Message, StringComparison.Ordinal);
        Assert.Contains("missing", Assert.Throws<InvalidDataException>(() => PyTorchStateDict.CreateLstm(tensors.Where(t => t.Name != "lstm.weight_hh_l1").ToDictionary(t => t.Name), "lstm.")).Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// An nn.LSTM(bias=False) state_dict (no bias keys) loads as a model without biases and exports the same key set again,
    /// plain and with projections; a bias-free model refuses nonzero biases, and options that say "no bias" refuse a
    /// state_dict that has them.
    /// </summary>
    [Fact]
    public void PyTorchStateDict_BiasFree_RoundTripsWithoutBiasKeys()
    {
        var cells = new[] { LstmParameters.CreateRandom(3, 4, 1), LstmParameters.CreateRandom(4, 4, 2) };
        var withBias = PyTorchStateDict.FromLstm(Lstm.Create(cells), "lstm.");
        var biasFree = withBias.Where(t => !t.Name.Contains("bias", StringComparison.Ordinal)).ToDictionary(t => t.Name);
        Lstm loaded = PyTorchStateDict.CreateLstm(biasFree, "lstm.");
        Assert.False(loaded.Options.Bias);
        Assert.True(PyTorchStateDict.CreateLstm(withBias.ToDictionary(t => t.Name), "lstm.").Options.Bias);
        Assert.Equal(["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.weight_ih_l1", "lstm.weight_hh_l1"], PyTorchStateDict.FromLstm(loaded, "lstm.").Select(t => t.Name));
        Assert.All(Enumerable.Range(0, 2), k => Assert.All(loaded.GetParameters(k, 0).Bias.ToArray(), b => Assert.Equal(0f, b)));

        var zeroBias = cells.Select(c => c.Clone()).ToArray();
        foreach (LstmParameters c in zeroBias)
        {
            c.Bias.Clear();
        }

        float[] x = Generators.Fill(5 * 3, Dist.Unit, 3), y1 = new float[5 * 4], y2 = new float[y1.Length];
        loaded.Forward(1, x, default, default, y1, default, default);
        Lstm.Create(zeroBias).Forward(1, x, default, default, y2, default, default);
        Check.BitwiseEqual(y2, y1, "y of the bias-free model");

        Lstm projected = PyTorchStateDict.CreateLstm(
            PyTorchStateDict.FromLstm(Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(3, 5, 2, 1)])).Where(t => !t.Name.Contains("bias", StringComparison.Ordinal)).ToDictionary(t => t.Name));
        Assert.False(projected.Options.Bias);
        Assert.Equal(["weight_ih_l0", "weight_hh_l0", "weight_hr_l0"], PyTorchStateDict.FromLstm(projected).Select(t => t.Name));

        Check.Throws<ArgumentException>("cells", () => Lstm.Create(cells, new LstmOptions { Bias = false }));
        Check.Throws<ArgumentException>("cells", () => Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(3, 5, 2, 1)], new LstmOptions { Bias = false }));
        Check.Throws<ArgumentException>("options", () => PyTorchStateDict.CreateLstm(withBias.ToDictionary(t => t.Name), "lstm.", new LstmOptions { Bias = false }));
        Assert.False(Lstm.Create(zeroBias, new LstmOptions { Bias = false }).Options.Bias);
    }

    /// <summary>
    /// A state_dict packed straight into a reduced precision and two step threads: the same LSTM as Lstm.Create with those
    /// options, bitwise; an options error stays an ArgumentException on 'options', not a file error.
    /// </summary>
    [Fact]
    public void PyTorchStateDict_CreateLstm_TakesTheLibrarysOptions()
    {
        var cells = new[] { LstmParameters.CreateRandom(3, 20, 1), LstmParameters.CreateRandom(3, 20, 2) };
        var tensors = PyTorchStateDict.FromLstm(Lstm.Create(cells, new LstmOptions { Direction = LstmDirection.Bidirectional })).ToDictionary(t => t.Name);
        var options = new LstmOptions { Precision = WeightPrecision.BFloat16, StepThreads = 2, BatchFirst = true };
        Lstm loaded = PyTorchStateDict.CreateLstm(tensors, "", options);
        Lstm direct = Lstm.Create(cells, options with { Direction = LstmDirection.Bidirectional });
        Assert.Equal(options with { Direction = LstmDirection.Bidirectional }, loaded.Options);
        float[] x = Generators.Fill(2 * 4 * 3, Dist.Unit, 5), y1 = new float[2 * 4 * 40], y2 = new float[y1.Length];
        loaded.Forward(2, x, default, default, y1, default, default);
        direct.Forward(2, x, default, default, y2, default, default);
        Check.BitwiseEqual(y2, y1, "bfloat16 from the state_dict");

        Check.Throws<ArgumentException>("options", () => PyTorchStateDict.CreateLstm(tensors, "", new LstmOptions { Direction = LstmDirection.Reverse }));
        var projected = PyTorchStateDict.FromLstm(Lstm.CreateProjected([ProjectedLstmParameters.CreateRandom(3, 5, 2, 1)])).ToDictionary(t => t.Name);
        Check.Throws<ArgumentException>("options", () => PyTorchStateDict.CreateLstm(projected, "", new LstmOptions { Precision = WeightPrecision.Int8 }));
    }

    /// <summary>
    /// An nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2) state_dict (weight_hr_l{k}[_reverse] included)
    /// round-trips through safetensors: the same tensors in PyTorch's order and shapes, and the same outputs.
    /// </summary>
    [Fact]
    public void PyTorchStateDict_RoundTrip_WithProjections()
    {
        const int I = 3, H = 5, P = 2;
        var cells = new[]
        {
            ProjectedLstmParameters.CreateRandom(I, H, P, 1), ProjectedLstmParameters.CreateRandom(I, H, P, 2),
            ProjectedLstmParameters.CreateRandom(2 * P, H, P, 3), ProjectedLstmParameters.CreateRandom(2 * P, H, P, 4),
        };
        var lstm = Lstm.CreateProjected(cells, new LstmOptions { Direction = LstmDirection.Bidirectional, BatchFirst = true });
        IReadOnlyList<FloatTensor> tensors = PyTorchStateDict.FromLstm(lstm, "lstm.");
        Assert.Equal(
            ["lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0", "lstm.weight_hr_l0",
             "lstm.weight_ih_l0_reverse", "lstm.weight_hh_l0_reverse", "lstm.bias_ih_l0_reverse", "lstm.bias_hh_l0_reverse", "lstm.weight_hr_l0_reverse"],
            tensors.Take(10).Select(t => t.Name));
        var byName = tensors.ToDictionary(t => t.Name);
        Assert.Equal([4 * H, P], byName["lstm.weight_hh_l1_reverse"].Shape.ToArray());
        Assert.Equal([P, H], byName["lstm.weight_hr_l1_reverse"].Shape.ToArray());
        Assert.Equal([4 * H, 2 * P], byName["lstm.weight_ih_l1"].Shape.ToArray());

        Lstm back = PyTorchStateDict.CreateLstm(SafetensorsFile.Read(SafetensorsFile.Write(tensors)), "lstm.", batchFirst: true);
        Assert.Equal((2, 2, I, H, P, 2 * P), (back.Layers, back.Directions, back.InputSize, back.HiddenSize, back.ProjectionSize, back.OutputSize));
        for (int k = 0; k < cells.Length; k++)
        {
            ProjectedLstmParameters q = back.GetProjectedParameters(k / 2, k % 2);
            Check.BitwiseEqual(cells[k].WeightIh, q.WeightIh, "weight_ih");
            Check.BitwiseEqual(cells[k].WeightHh, q.WeightHh, "weight_hh");
            Check.BitwiseEqual(cells[k].Bias, q.Bias, "bias");
            Check.BitwiseEqual(cells[k].WeightHr, q.WeightHr, "weight_hr");
        }

        float[] x = Generators.Fill(2 * 4 * I, Dist.Unit, 9), y1 = new float[2 * 4 * 2 * P], y2 = new float[y1.Length];
        float[] h1 = new float[4 * 2 * P], h2 = new float[h1.Length], c1 = new float[4 * 2 * H], c2 = new float[c1.Length];
        lstm.Forward(2, x, default, default, y1, h1, c1);
        back.Forward(2, x, default, default, y2, h2, c2);
        Check.BitwiseEqual(y1, y2, "y after the round trip");
        Check.BitwiseEqual(h1, h2, "hT after the round trip");
        Check.BitwiseEqual(c1, c2, "cT after the round trip");

        // Bad files: a missing weight_hr of a later cell, a weight_hr of the wrong shape, P ≥ H.
        string missing = Assert.Throws<InvalidDataException>(() => PyTorchStateDict.CreateLstm(tensors.Where(t => t.Name != "lstm.weight_hr_l1_reverse").ToDictionary(t => t.Name), "lstm.")).Message;
        Assert.Contains("weight_hr_l1_reverse", missing, StringComparison.Ordinal);
        var wrong = tensors.ToDictionary(t => t.Name);
        wrong["lstm.weight_hr_l0"] = new FloatTensor("lstm.weight_hr_l0", [P, H + 1], new float[P * (H + 1)]);
        Assert.Contains("weight_hr", Assert.Throws<InvalidDataException>(() => PyTorchStateDict.CreateLstm(wrong, "lstm.")).Message, StringComparison.Ordinal);
        var square = new Dictionary<string, FloatTensor>
        {
            ["weight_ih_l0"] = new("weight_ih_l0", [8, 1], new float[8]),
            ["weight_hh_l0"] = new("weight_hh_l0", [8, 2], new float[16]),
            ["weight_hr_l0"] = new("weight_hr_l0", [2, 2], new float[4]),
        };
        Assert.Contains("projectionSize", Assert.Throws<InvalidDataException>(() => PyTorchStateDict.CreateLstm(square)).Message, StringComparison.Ordinal);
    }

    internal static byte[] Npy(string dict, byte[] data)
    {
        byte[] header = Encoding.ASCII.GetBytes(dict + "\n");
        byte[] file = new byte[10 + header.Length + data.Length];
        ((ReadOnlySpan<byte>)[0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]).CopyTo(file);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), (ushort)header.Length);
        header.CopyTo(file, 10);
        data.CopyTo(file, 10 + header.Length);
        return file;
    }

    internal static byte[] Safetensors(string json, byte[] data)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        byte[] file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    private static void AssertSame(LstmParameters expected, LstmParameters got, string what)
    {
        Check.BitwiseEqual(expected.WeightIh, got.WeightIh, what + " WeightIh");
        Check.BitwiseEqual(expected.WeightHh, got.WeightHh, what + " WeightHh");
        Check.BitwiseEqual(expected.Bias, got.Bias, what + " Bias");
    }
}
