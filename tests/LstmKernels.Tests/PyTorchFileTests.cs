using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using LstmKernels.Interop;

namespace LstmKernels.Tests;

/// <summary>
/// PyTorchFile (torch.save state_dict archives) on the files PyTorch 1.13.1 wrote (Fixtures/pytorch/, made by
/// make_pt_fixtures.py, with PyTorch's outputs in fixtures.json), and on hand-built archives and pickles for every
/// refusal: globals off the allow-list, opcodes a state_dict does not need, views that overlap or leave their storage,
/// damaged archives, sizes that would make the reader allocate more than the file.
/// </summary>
public sealed class PyTorchFileTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch");

    private static readonly Lazy<JsonDocument> Fixtures = new(() => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "fixtures.json"))));

    public static TheoryData<string> CaseNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (JsonElement c in Fixtures.Value.RootElement.GetProperty("cases").EnumerateArray())
            {
                data.Add(c.GetProperty("name").GetString()!);
            }

            return data;
        }
    }

    public static TheoryData<string> RefusalFiles
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (JsonElement c in Fixtures.Value.RootElement.GetProperty("refusals").EnumerateArray())
            {
                data.Add(c.GetProperty("file").GetString()!);
            }

            return data;
        }
    }

    /// <summary>
    /// Every fixture loads in one call (ReadFile, then CreateLstm with its prefix and batch_first), holds exactly the
    /// state_dict's keys in its order and exactly the values torch holds (float16, bfloat16 and float64 converted to
    /// float32 as torch's .float() does, views gathered), and runs to PyTorch's outputs. Bound: against PyTorch in
    /// float64 on the same weights, <see cref="Tolerances.Layer"/> (our float32 error, T steps × L layers); against
    /// PyTorch in float32, twice that (PyTorch's own float32 error is of the same order, in another summation order).
    /// </summary>
    [Theory]
    [MemberData(nameof(CaseNames))]
    public void PyTorchFile_Fixture_LoadsAndMatchesPyTorch(string name)
    {
        JsonElement c = Case(name);
        IReadOnlyDictionary<string, FloatTensor> tensors = PyTorchFile.ReadFile(Path.Combine(Folder, c.GetProperty("file").GetString()!));
        Assert.Equal(c.GetProperty("keys").EnumerateArray().Select(k => k.GetString()!), tensors.Keys);
        foreach (JsonProperty t in c.GetProperty("tensors").EnumerateObject())
        {
            Assert.Equal(Shape(t.Value), tensors[t.Name].Shape.ToArray());
            Check.BitwiseEqual(Floats(t.Value), tensors[t.Name].Data, name + " " + t.Name);
        }

        bool batchFirst = c.GetProperty("batch_first").GetBoolean();
        Lstm lstm = PyTorchStateDict.CreateLstm(tensors, c.GetProperty("prefix").GetString()!, new LstmOptions { BatchFirst = batchFirst });
        int[] xShape = Shape(c.GetProperty("x"));
        int batch = batchFirst ? xShape[0] : xShape[1], steps = batchFirst ? xShape[1] : xShape[0];
        int layers = c.GetProperty("layers").GetInt32();
        Assert.Equal(layers, lstm.Layers);
        float[] y = new float[Floats(c.GetProperty("y")).Length], h = new float[Floats(c.GetProperty("h_n")).Length], cell = new float[Floats(c.GetProperty("c_n")).Length];
        lstm.Forward(batch, Floats(c.GetProperty("x")), default, default, y, h, cell);
        foreach ((string output, float[] got) in (ReadOnlySpan<(string, float[])>)[("y", y), ("h_n", h), ("c_n", cell)])
        {
            float[] exact = Floats(c.GetProperty(output + "64")), single = Floats(c.GetProperty(output));
            for (int k = 0; k < got.Length; k++)
            {
                double bound = Tolerances.Layer(steps, layers, exact[k]);
                Check.Near(exact[k], got[k], bound, $"{name} {output} against PyTorch in float64", k);
                Check.Near(single[k], got[k], 2 * bound, $"{name} {output} against PyTorch in float32", k);
            }
        }
    }

    /// <summary>
    /// The reduced and double precision fixtures really hold float16, bfloat16 and float64 storages (their values are
    /// representable in the dtype and, for the reduced ones, not all representable in the next narrower one), and read
    /// exactly as torch converts them; the views fixture really is made of views (the storages are larger than the tensors).
    /// </summary>
    [Fact]
    public void PyTorchFile_DtypesAndViews_AreWhatTorchStored()
    {
        foreach (string name in (ReadOnlySpan<string>)["float16", "bfloat16", "float64"])
        {
            JsonElement c = Case(name);
            IReadOnlyDictionary<string, FloatTensor> tensors = PyTorchFile.ReadFile(Path.Combine(Folder, name + ".pt"));
            foreach (JsonProperty t in c.GetProperty("tensors").EnumerateObject())
            {
                Assert.Equal(name, t.Value.GetProperty("dtype").GetString());
                foreach (float v in tensors[t.Name].Data)
                {
                    Assert.True(
                        name switch
                        {
                            "float16" => (float)(Half)v == v,
                            "bfloat16" => (BitConverter.SingleToInt32Bits(v) & 0xFFFF) == 0,
                            _ => true,
                        },
                        $"{name} {t.Name}: {v} is not a {name} value");
                }
            }

            // float64 → float32 rounds: the float32 values are not all exactly halves (the file held more than float16).
            if (name == "float64")
            {
                Assert.Contains(tensors.Values.SelectMany(t => t.Data.ToArray()), v => (float)(Half)v != v);
            }
        }

        using ZipArchive zip = ZipFile.OpenRead(Path.Combine(Folder, "views.pt"));
        long storageBytes = zip.Entries.Where(e => e.FullName.StartsWith("views/data/", StringComparison.Ordinal)).Sum(e => e.Length);
        long tensorBytes = 4L * PyTorchFile.ReadFile(Path.Combine(Folder, "views.pt")).Values.Sum(t => t.Length);
        Assert.True(storageBytes > tensorBytes, $"the views fixture's storages ({storageBytes} bytes) should be larger than its tensors ({tensorBytes})");
    }

    /// <summary>
    /// The bias-free round trip against PyTorch's own key lists: every fixture loaded and exported by
    /// PyTorchStateDict.FromLstm gives exactly the keys of PyTorch's state_dict, in its order: without bias keys for
    /// nn.LSTM(bias=False), with its prefix for the wrapped module; and the exported tensors load back to the same outputs.
    /// </summary>
    [Theory]
    [InlineData("one_layer")]
    [InlineData("stack")]
    [InlineData("bidirectional")]
    [InlineData("projection")]
    [InlineData("no_bias")]
    [InlineData("wrapped")]
    public void PyTorchFile_FromLstm_GivesPyTorchsKeys(string name)
    {
        JsonElement c = Case(name);
        string prefix = c.GetProperty("prefix").GetString()!;
        bool batchFirst = c.GetProperty("batch_first").GetBoolean();
        Lstm lstm = PyTorchStateDict.CreateLstm(PyTorchFile.ReadFile(Path.Combine(Folder, name + ".pt")), prefix, batchFirst);
        Assert.Equal(name != "no_bias", lstm.Options.Bias);
        IReadOnlyList<FloatTensor> exported = PyTorchStateDict.FromLstm(lstm, prefix);
        Assert.Equal(c.GetProperty("keys").EnumerateArray().Select(k => k.GetString()!).Where(k => k.StartsWith(prefix, StringComparison.Ordinal)), exported.Select(t => t.Name));

        Lstm again = PyTorchStateDict.CreateLstm(exported.ToDictionary(t => t.Name), prefix, batchFirst);
        Assert.Equal(lstm.Options.Bias, again.Options.Bias);
        float[] x = Floats(c.GetProperty("x"));
        int batch = Shape(c.GetProperty("x"))[batchFirst ? 0 : 1];
        float[] y1 = new float[Floats(c.GetProperty("y")).Length], y2 = new float[y1.Length];
        lstm.Forward(batch, x, default, default, y1, default, default);
        again.Forward(batch, x, default, default, y2, default, default);
        Check.BitwiseEqual(y1, y2, name + " after the round trip");
    }

    /// <summary>The malicious fixtures (a custom __reduce__ calling os.system or eval), a complex tensor and the legacy format: refused, naming the global or the format.</summary>
    [Theory]
    [MemberData(nameof(RefusalFiles))]
    public void PyTorchFile_RefusesByName(string file)
    {
        JsonElement refusal = Fixtures.Value.RootElement.GetProperty("refusals").EnumerateArray().Single(r => r.GetProperty("file").GetString() == file);
        var e = Assert.Throws<InvalidDataException>(() => PyTorchFile.ReadFile(Path.Combine(Folder, file)));
        Assert.StartsWith("Invalid torch.save file: ", e.Message, StringComparison.Ordinal);
        foreach (JsonElement name in refusal.GetProperty("names").EnumerateArray())
        {
            Assert.Contains(name.GetString()!, e.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// The state_dict of nn.Sequential(nn.LSTM, nn.BatchNorm1d) with an int64 <c>position_ids</c> buffer and a bool mask,
    /// as PyTorch 1.13.1 saved it: the file really holds torch.LongStorage and torch.BoolStorage, and its integer and bool
    /// tensors are left out while the float ones are read (<see cref="PyTorchFile_Fixture_LoadsAndMatchesPyTorch"/>
    /// checks their values and the LSTM's outputs against PyTorch).
    /// </summary>
    [Fact]
    public void PyTorchFile_IntegerBuffersFixture_LeavesThemOut()
    {
        JsonElement c = Case("integer_buffers");
        IReadOnlyDictionary<string, FloatTensor> tensors = PyTorchFile.ReadFile(Path.Combine(Folder, "integer_buffers.pt"));
        string[] leftOut = [.. c.GetProperty("left_out").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];
        Assert.Equal(["1.num_batches_tracked", "mask", "position_ids"], leftOut);
        Assert.All(leftOut, k => Assert.False(tensors.ContainsKey(k), k));
        Assert.Equal(8, tensors.Count);

        using ZipArchive zip = ZipFile.OpenRead(Path.Combine(Folder, "integer_buffers.pt"));
        using var pickle = new MemoryStream();
        using (Stream s = zip.Entries.Single(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)).Open())
        {
            s.CopyTo(pickle);
        }

        string text = Encoding.ASCII.GetString(pickle.ToArray());
        Assert.Contains("LongStorage", text, StringComparison.Ordinal);
        Assert.Contains("BoolStorage", text, StringComparison.Ordinal);
    }

    /// <summary>
    /// A thousand two-element views of one flattened storage, as PyTorch 1.13.1 saved them in protocol 4 (flat_views.pt):
    /// read within the budgets (each view costs far more memory than its few bytes of pickle), and within 16 bytes
    /// allocated per byte of file plus 1 MiB; the views are consecutive pairs of the storage.
    /// </summary>
    [Fact]
    public void PyTorchFile_ManySmallViewsOfOneStorage_AreRead()
    {
        byte[] file = File.ReadAllBytes(Path.Combine(Folder, "flat_views.pt"));
        AssertReadCheaply(file, 1000);
        IReadOnlyDictionary<string, FloatTensor> tensors = PyTorchFile.Read(file);
        float[] all = [.. Enumerable.Range(0, 1000).SelectMany(i => tensors[$"layers.{i}.norm.weight"].Data.ToArray())];
        using ZipArchive zip = new(new MemoryStream(file));
        ZipArchiveEntry storage = Assert.Single(zip.Entries, e => e.FullName.Contains("/data/", StringComparison.Ordinal));
        using var bytes = new MemoryStream();
        using (Stream s = storage.Open())
        {
            s.CopyTo(bytes);
        }

        byte[] raw = bytes.ToArray();
        Check.BitwiseEqual([.. Enumerable.Range(0, 2000).Select(k => BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(4 * k)))], all, "the pairs");
    }

    /// <summary>The hand-built archives of the tests below read as intended when nothing is wrong with them, big-endian ones too.</summary>
    [Fact]
    public void PyTorchFile_HandBuiltArchives_Read()
    {
        float[] values = [1f, 2f, 3f, 4f, 5f, 6f];
        IReadOnlyDictionary<string, FloatTensor> t = PyTorchFile.Read(Build(Dict(("w", Tensor("0", "FloatStorage", 6, 0, [2, 3], [3, 1])), ("v", Tensor("0", "FloatStorage", 6, 1, [2, 2], [1, 3]))), ("0", Bytes(values))));
        Assert.Equal([2, 3], t["w"].Shape.ToArray());
        Check.BitwiseEqual(values, t["w"].Data, "w");
        Check.BitwiseEqual([2f, 5f, 3f, 6f], t["v"].Data, "v (a transposed window at offset 1)");

        byte[] big = Bytes(values);
        for (int k = 0; k < big.Length; k += 4)
        {
            big.AsSpan(k, 4).Reverse();
        }

        Check.BitwiseEqual(values, PyTorchFile.Read(Build(Dict(("w", Tensor("0", "FloatStorage", 6, 0, [6], [1]))), "big", ("0", big)))["w"].Data, "big-endian");

        // The same view twice (tied weights) shares the values; an empty tensor at the storage's end is fine.
        t = PyTorchFile.Read(Build(Dict(("a", Tensor("0", "FloatStorage", 6, 0, [6], [1])), ("b", Tensor("0", "FloatStorage", 6, 0, [6], [1])), ("e", Tensor("0", "FloatStorage", 6, 6, [0, 4], [4, 1]))), ("0", Bytes(values))));
        Check.BitwiseEqual(t["a"].Data, t["b"].Data, "tied");
        Assert.Equal([0, 4], t["e"].Shape.ToArray());
    }

    /// <summary>
    /// Tensors on integer and bool storages (a BatchNorm's <c>num_batches_tracked</c>, a <c>position_ids</c> buffer) are
    /// opaque: left out of the state_dict while the float tensors next to them are read, their entries still checked
    /// (sizes), their views still checked for range (an expanded one, overlapping, is fine: it is never read), and an
    /// integer tensor as a parameter is refused.
    /// </summary>
    [Fact]
    public void PyTorchFile_IntegerTensors_AreLeftOut()
    {
        float[] values = [1f, 2f, 3f, 4f, 5f, 6f];
        (string Type, int Size)[] types = [("LongStorage", 8), ("IntStorage", 4), ("ShortStorage", 2), ("CharStorage", 1), ("ByteStorage", 1), ("BoolStorage", 1)];
        var items = new List<(string, byte[])> { ("w", Tensor("f", "FloatStorage", 6, 0, [2, 3], [3, 1])) };
        var storages = new List<(string, byte[])> { ("f", Bytes(values)) };
        foreach ((string type, int size) in types)
        {
            items.Add((type, Tensor(type, type, 6, 1, [2, 2], [0, 1])));
            storages.Add((type, new byte[6 * size]));
        }

        items.Add(("b", Tensor("f", "FloatStorage", 6, 3, [3], [1])));
        IReadOnlyDictionary<string, FloatTensor> t = PyTorchFile.Read(Build(Dict([.. items]), [.. storages]));
        Assert.Equal(["w", "b"], t.Keys);
        Check.BitwiseEqual(values, t["w"].Data, "w");
        Check.BitwiseEqual([4f, 5f, 6f], t["b"].Data, "b");

        void Refused(string problem, byte[] file) => Assert.Contains(problem, Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(file)).Message, StringComparison.Ordinal);
        Refused("reaches outside its storage", Build(Dict(("n", Tensor("0", "LongStorage", 6, 4, [3], [1]))), ("0", new byte[48])));
        Refused("reaches outside its storage", Build(Dict(("n", Tensor("0", "LongStorage", 6, 0, [2, 2], [7, 1]))), ("0", new byte[48])));
        Refused("no entry 'archive/data/0' of 48 bytes", Build(Dict(("n", Tensor("0", "LongStorage", 6, 0, [6], [1]))), ("0", new byte[24])));
        Refused("referred to as torch.LongStorage of 6 elements and as torch.IntStorage", Build(Dict(("n", Tensor("0", "LongStorage", 6, 0, [6], [1])), ("m", Tensor("0", "IntStorage", 6, 0, [6], [1]))), ("0", new byte[48])));
        Refused("REDUCE of torch._utils._rebuild_parameter with a tuple of 3", Build(Dict(("n", [.. Global("torch._utils", "_rebuild_parameter"), (byte)'(', .. Tensor("0", "LongStorage", 6, 0, [6], [1]), 0x89, .. Global("collections", "OrderedDict"), (byte)')', (byte)'R', (byte)'t', (byte)'R'])), ("0", new byte[48])));
    }

    /// <summary>Views that overlap themselves or reach outside their storage, and malformed rebuild arguments: refused, naming the storage and the view.</summary>
    [Theory]
    [InlineData(0, new long[] { 2, 3 }, new long[] { 0, 1 }, "overlapping")]
    [InlineData(0, new long[] { 2, 3 }, new long[] { 2, 1 }, "overlapping")]
    [InlineData(1, new long[] { 2, 3 }, new long[] { 3, 1 }, "outside")]
    [InlineData(0, new long[] { 7 }, new long[] { 1 }, "outside")]
    [InlineData(6, new long[] { 1 }, new long[] { 1 }, "outside")]
    [InlineData(7, new long[] { 0 }, new long[] { 1 }, "negative or too large")]
    [InlineData(-1, new long[] { 2 }, new long[] { 1 }, "negative or too large")]
    [InlineData(0, new long[] { 2 }, new long[] { -1 }, "negative or too large")]
    [InlineData(0, new long[] { 2, 3 }, new long[] { 3 }, "same length")]
    [InlineData(0, new long[] { 3_000_000_000 }, new long[] { 1 }, "negative or too large")]
    [InlineData(0, new long[] { 2, 2 }, new long[] { 4_000_000_000, 1 }, "outside")]
    public void PyTorchFile_RefusesBadViews(long offset, long[] size, long[] stride, string problem)
    {
        var e = Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(Build(Dict(("w", Tensor("0", "FloatStorage", 6, offset, size, stride))), ("0", new byte[24]))));
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.Contains("storage '0'", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Any view of any storage (the four dtypes; row-major, transposed or arbitrary strides including 0; offsets and
    /// storage sizes around the edge of what the view needs): read exactly as a naive row-major gather of the storage's
    /// values when its elements are distinct and inside the storage, refused otherwise. The documented criterion for
    /// "distinct" (taken by growing stride, each moving dimension's stride exceeds the reach of the smaller ones) is
    /// sufficient, not necessary: a distinct view that fails it (interleaved strides) may be refused as overlapping,
    /// and every view that meets it must be read.
    /// </summary>
    [Property(Arbitrary = [typeof(ViewGenerators)], MaxTest = 400)]
    public void PyTorchFile_AnyView_IsGatheredOrRefused(ViewCase v)
    {
        int size = v.Dtype switch { "DoubleStorage" => 8, "FloatStorage" => 4, _ => 2 };
        byte[] storage = new byte[v.Elements * size];
#pragma warning disable CA5394 // Test data.
        new Random(v.Seed).NextBytes(storage);
#pragma warning restore CA5394
        byte[] file = Build(Dict(("w", Tensor("0", v.Dtype, v.Elements, v.Offset, v.Sizes, v.Strides))), ("0", storage));

        var indices = new List<long> { v.Offset };
        for (int d = 0; d < v.Sizes.Length; d++)
        {
            indices = [.. indices.SelectMany(i => Enumerable.Range(0, (int)v.Sizes[d]).Select(j => i + (j * v.Strides[d])))];
        }

        bool inside = v.Offset <= v.Elements && indices.All(i => i < v.Elements);
        bool distinct = indices.Distinct().Count() == indices.Count;
        if (!inside || !distinct)
        {
            Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(file));
            return;
        }

        var moving = v.Sizes.Zip(v.Strides).Where(d => d.First > 1).OrderBy(d => d.Second).ToArray();
        bool nested = moving.Select((d, k) => d.Second > moving.Take(k).Sum(e => (e.First - 1) * e.Second)).All(b => b);
        IReadOnlyDictionary<string, FloatTensor> t;
        try
        {
            t = PyTorchFile.Read(file);
        }
        catch (InvalidDataException e) when (!nested)
        {
            Assert.Contains("overlapping", e.Message, StringComparison.Ordinal);
            return;
        }

        float[] expected = indices.Select(i => Value(storage.AsSpan((int)i * size, size), v.Dtype)).ToArray();
        Assert.Equal(v.Sizes.Select(d => (int)d), t["w"].Shape.ToArray());
        Check.BitwiseEqual(expected, t["w"].Data, v.ToString());
    }

    /// <summary>Pickles and archives that are wrong in every other way: each refused with a message naming the problem.</summary>
    [Fact]
    public void PyTorchFile_RefusesMalformedPicklesAndArchives()
    {
        byte[] storage = new byte[24];
        byte[] good = Tensor("0", "FloatStorage", 6, 0, [6], [1]);
        void Refused(string problem, byte[] pickle, params (string Key, byte[] Bytes)[] storages) =>
            Assert.Contains(problem, Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(Build(pickle, storages))).Message, StringComparison.Ordinal);

        Refused("'builtins.exec'", [.. Proto, .. Global("builtins", "exec"), (byte)'.']);
        Refused("'torch.ComplexFloatStorage'", Dict(("w", Tensor("0", "ComplexFloatStorage", 6, 0, [6], [1]))), ("0", new byte[48]));
        Refused("a dict key that is the int 1, not a str", [.. Proto, (byte)'}', (byte)'K', 1, (byte)'N', (byte)'s', (byte)'.']);
        Refused("'torch.nn.modules.rnn.LSTM'", [.. Proto, 0x8C, 20, .. "torch.nn.modules.rnn"u8, 0x8C, 4, .. "LSTM"u8, 0x93, (byte)'.']);
        Refused("opcode INST (0x69)", [.. Proto, (byte)'i', .. "os\nsystem\n"u8, (byte)'.']);
        Refused("opcode EMPTY_LIST (0x5D)", [.. Proto, (byte)']', (byte)'.']);
        Refused("opcode unknown (0xFF)", [.. Proto, 0xFF]);
        Refused("PROTO 1", [0x80, 1, (byte)'N', (byte)'.']);
        Refused("no PROTO at its start", [(byte)'}', (byte)'.']);
        Refused("without STOP", [.. Proto, (byte)'N']);
        Refused("bytes after it", [.. Proto, (byte)'}', (byte)'.', (byte)'N']);
        Refused("2 values and", [.. Proto, (byte)'N', (byte)'N', (byte)'.']);
        Refused("values wanted", [.. Proto, (byte)'N', (byte)'R', (byte)'.']);
        Refused("never PUT", [.. Proto, (byte)'h', 3, (byte)'.']);
        Refused("LONG1 of 9 bytes", [.. Proto, 0x8A, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, (byte)'.']);
        Refused("truncated", [.. Proto, (byte)'X', 0xFF, 0xFF, 0xFF, 0x7F, (byte)'a', (byte)'.']);
        Refused("not valid UTF-8", [.. Proto, (byte)'X', 1, 0, 0, 0, 0xFF, (byte)'.']);
        Refused("nested MARKs", [.. Proto, .. Enumerable.Repeat((byte)'(', 5000)]);
        Refused("SETITEM on None", [.. Proto, (byte)'N', (byte)'N', (byte)'N', (byte)'s', (byte)'.']);
        Refused("REDUCE of collections.OrderedDict with a tuple of 1", [.. Proto, .. Global("collections", "OrderedDict"), (byte)'N', 0x85, (byte)'R', (byte)'.']);
        Refused("BUILD of a tensor", Dict(("w", [.. good, (byte)'}', (byte)'b'])), ("0", storage));
        Refused("not a state_dict", [.. Proto, (byte)'N', (byte)'.']);
        Refused("entry 'epoch' is the int 3, not a tensor", Dict(("epoch", [(byte)'K', 3])));
        Refused("entry 'model' is a dict, not a tensor", Dict(("model", Dict(("w", good))[2..^1])), ("0", storage));
        Refused("entry 'w' appears twice", Dict(("w", good), ("w", good)), ("0", storage));
        Refused("no entry 'archive/data/1'", Dict(("w", Tensor("1", "FloatStorage", 6, 0, [6], [1]))), ("0", storage));
        Refused("no entry 'archive/data/0' of 24 bytes", Dict(("w", good)), ("0", new byte[20]));
        Refused("referred to as torch.FloatStorage of 6 elements and as torch.HalfStorage", Dict(("w", good), ("v", Tensor("0", "HalfStorage", 6, 0, [6], [1]))), ("0", storage));
        Refused("not ('storage'", Dict(("w", [(byte)'N', (byte)'Q'])));
        Refused("_rebuild_tensor_v2 is called with a tuple of 2", Dict(("w", [.. Global("torch._utils", "_rebuild_tensor_v2"), (byte)'N', (byte)'N', 0x86, (byte)'R'])));

        Assert.Contains("'archive/byteorder' is neither", Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(Build(Dict(("w", good)), "middle", ("0", storage)))).Message, StringComparison.Ordinal);
        Assert.Contains("no '<archive>/data.pkl'", Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(Zip(("archive/other.pkl", [1])))).Message, StringComparison.Ordinal);
        Assert.Contains("two pickles", Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(Zip(("a/data.pkl", [1]), ("b/data.pkl", [1])))).Message, StringComparison.Ordinal);
        Assert.Contains("appears twice", Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(Zip(("a/data.pkl", [1]), ("a/data/0", [1]), ("a/data/0", [1])))).Message, StringComparison.Ordinal);
        Assert.Contains("does not hold a number", Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(Zip(("a/data.pkl", Dict()), ("a/version", "x"u8.ToArray())))).Message, StringComparison.Ordinal);
        Assert.Contains("not a zip archive", Assert.Throws<InvalidDataException>(() => PyTorchFile.Read("hello"u8)).Message, StringComparison.Ordinal);
        Assert.Contains("legacy", Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(Dict())).Message, StringComparison.Ordinal);
        Assert.Contains("damaged", Assert.Throws<InvalidDataException>(() => PyTorchFile.Read("PK\u0003\u0004 and nothing else"u8)).Message, StringComparison.Ordinal);
        Assert.Empty(PyTorchFile.Read(Zip(("a/data.pkl", Dict()), ("a/version", "3\n"u8.ToArray()))));
    }

    /// <summary>
    /// Sizes a file claims but does not hold, and a zip bomb: refused before anything of that size is allocated
    /// (at most a small multiple of the file, plus the fixed slack of an exception and the zip reader's buffers).
    /// </summary>
    [Fact]
    public void PyTorchFile_ClaimedSizesAndBombs_AreRefusedCheaply()
    {
        // A storage that claims 2·10⁹ elements, a string that claims 2 GB, a memo index of 2³²−1 (fine, it is a key).
        AssertRefusedCheaply(Build(Dict(("w", Tensor("0", "FloatStorage", 2_000_000_000, 0, [6], [1]))), ("0", new byte[24])), "no entry");
        AssertRefusedCheaply(Build([.. Proto, (byte)'X', 0xFF, 0xFF, 0xFF, 0x7F, (byte)'.']), "truncated");
        AssertRefusedCheaply(Build([.. Proto, (byte)'N', (byte)'r', 0xFF, 0xFF, 0xFF, 0xFF, (byte)'j', 0xFF, 0xFF, 0xFF, 0xFF, (byte)'.']), "STOP with 2 values");

        // One 64 KiB storage viewed by 2000 different windows: each alone is fine, together they exceed the element budget.
        const int N = 16384;
        byte[] many = [.. Proto, (byte)'}', (byte)'(', .. Enumerable.Range(0, 2000).SelectMany(k => (byte[])[.. Str("w" + k), .. Tensor("0", "FloatStorage", N, k, [N - 2000], [1])]), (byte)'u', (byte)'.'];
        AssertRefusedCheaply(Build(many, ("0", new byte[4 * N])), "memory budget");

        // 64 MiB of zeros deflated to about 64 KiB: refused from its declared size, never inflated.
        using var bomb = new MemoryStream();
        using (var zip = new ZipArchive(bomb, ZipArchiveMode.Create, leaveOpen: true))
        {
            Write(zip, "a/data.pkl", Dict(("w", Tensor("0", "FloatStorage", 16 << 20, 0, [1], [1]))), CompressionLevel.NoCompression);
            Write(zip, "a/data/0", new byte[64 << 20], CompressionLevel.Optimal);
        }

        byte[] bombFile = bomb.ToArray();
        Assert.True(bombFile.Length < 1 << 20);
        AssertRefusedCheaply(bombFile, "inflate");
    }

    /// <summary>
    /// Thousands of distinct views that cost a few bytes of pickle each (the rebuild function, the storage, the size,
    /// the hooks and a few stride tuples memoized; only the offset or the stride tuple changes from view to view):
    /// zero-element views of rank 64, one-element views of rank 64 whose size-1 dimensions carry different strides,
    /// one view under many names, and views under one repeated name. Each view is charged its elements (at least one)
    /// and its dimensions, each name its entry, against a budget of the file's length; a repeated name is refused where
    /// it appears. The distinct views and the repeated name are refused, the names of one view (131072 of them) are
    /// read, all within 16 bytes allocated per byte of file plus 1 MiB; the same archives with a few views read.
    /// </summary>
    [Fact]
    public void PyTorchFile_ManyCheapViews_AreRefusedCheaply()
    {
        const int N = 8192;
        long[] empty = [0, .. Enumerable.Repeat(1L, 63)], single = [.. Enumerable.Repeat(1L, 64)];

        // Controls: a few of the same views read (the zero-element ones as empty tensors, the one-element ones shared by name).
        Assert.All(PyTorchFile.Read(ManyViews(N, empty, 4, 8, k => k, distinctKeys: true)).Values, t => Assert.Equal(0, t.Length));
        Assert.Equal(8, PyTorchFile.Read(ManyViews(N, single, 4, 8, k => k, distinctKeys: true)).Count);

        AssertRefusedCheaply(ManyViews(N, empty, 4, 4 * (N + 1), k => k % (N + 1), distinctKeys: true), "budget");
        AssertRefusedCheaply(ManyViews(N, single, 4, 4 * N, k => k % N, distinctKeys: true), "budget");
        AssertReadCheaply(ManyViews(N, single, 1, 16 * N, k => 0, distinctKeys: true), 16 * N);
        AssertRefusedCheaply(ManyViews(N, single, 4, 4 * N, k => k % N, distinctKeys: false), "entry 'k' appears twice");
    }

    /// <summary>
    /// Pickles of a million one-byte opcodes that each build an object or a slot (dicts, Nones, memo entries, empty
    /// tuples, one-char strs, tuples of tuples): refused by the stack's cap (4096 plus one value per 8 bytes of pickle)
    /// or the objects' budget (8 bytes per byte of file plus 64 KiB) within 16 bytes allocated per byte of file plus 1 MiB.
    /// </summary>
    [Fact]
    public void PyTorchFile_PickleFloods_AreRefusedCheaply()
    {
        const int M = 1 << 20;
        AssertRefusedCheaply(Build([.. Proto, .. Enumerable.Repeat((byte)'}', M), (byte)'.']), "values on the stack");
        AssertRefusedCheaply(Build([.. Proto, .. Enumerable.Repeat((byte)'N', M), (byte)'.']), "values on the stack");
        AssertRefusedCheaply(Build([.. Proto, (byte)'N', .. Enumerable.Repeat((byte)0x94, M), (byte)'.']), "more objects");
        AssertRefusedCheaply(Build([.. Proto, (byte)'(', .. Enumerable.Repeat((byte)')', M), (byte)'t', (byte)'.']), "values on the stack");
        AssertRefusedCheaply(Build([.. Proto, .. Enumerable.Range(0, M / 3).SelectMany(k => (byte[])[0x8C, 1, (byte)'a']), (byte)'.']), "values on the stack");
        AssertRefusedCheaply(Build([.. Proto, (byte)'N', .. Enumerable.Repeat((byte)0x85, M), (byte)'.']), "more objects");
    }

    /// <summary>
    /// A state_dict of <paramref name="count"/> views of one float32 storage of <paramref name="elements"/> elements,
    /// each a few bytes of pickle: the rebuild function (memo 0), the storage (1), <paramref name="size"/> (2), the hooks
    /// (3) and <paramref name="strideTuples"/> stride tuples (4, 5, …: all 1, all 2, …) are memoized where first used.
    /// View k has offset <paramref name="offset"/>(k) and stride tuple k mod <paramref name="strideTuples"/>; its name is
    /// "k&lt;k&gt;", or "k" for all. The items are set 1000 at a time, as pickle does.
    /// </summary>
    private static byte[] ManyViews(int elements, long[] size, int strideTuples, int count, Func<int, long> offset, bool distinctKeys)
    {
        var p = new List<byte>(Proto) { (byte)'}' };
        for (int k = 0; k < count; k++)
        {
            if (k % 1000 == 0)
            {
                p.Add((byte)'(');
            }

            p.AddRange(Str(distinctKeys ? "k" + k.ToString(System.Globalization.CultureInfo.InvariantCulture) : "k"));
            byte[] stride = k < strideTuples ? [.. Ints([.. Enumerable.Repeat((long)k + 1, size.Length)]), (byte)'q', (byte)(4 + k)] : [(byte)'h', (byte)(4 + (k % strideTuples))];
            p.AddRange(k == 0
                ? [
                    .. Global("torch._utils", "_rebuild_tensor_v2"), (byte)'q', 0, (byte)'(',
                    (byte)'(', .. Str("storage"), .. Global("torch", "FloatStorage"), .. Str("0"), .. Str("cpu"), .. Int(elements), (byte)'t', (byte)'Q', (byte)'q', 1,
                    .. Int(offset(k)), .. Ints(size), (byte)'q', 2, .. stride, 0x89, .. Global("collections", "OrderedDict"), (byte)')', (byte)'R', (byte)'q', 3, (byte)'t', (byte)'R',
                ]
                : [(byte)'h', 0, (byte)'(', (byte)'h', 1, .. Int(offset(k)), (byte)'h', 2, .. stride, 0x89, (byte)'h', 3, (byte)'t', (byte)'R']);
            if (k % 1000 == 999 || k == count - 1)
            {
                p.Add((byte)'u');
            }
        }

        p.Add((byte)'.');
        return Build([.. p], ("0", new byte[4 * elements]));
    }

    /// <summary>One element of a storage, converted as torch's .float() does.</summary>
    private static float Value(ReadOnlySpan<byte> bytes, string dtype) => dtype switch
    {
        "FloatStorage" => BinaryPrimitives.ReadSingleLittleEndian(bytes),
        "DoubleStorage" => (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes),
        "HalfStorage" => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes),
        _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes) << 16),
    };

    private static void AssertReadCheaply(byte[] file, int tensors)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        int count = PyTorchFile.Read(file).Count;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(tensors, count);
        Assert.True(allocated <= (16L * file.Length) + (1 << 20), $"a {file.Length}-byte file made the reader allocate {allocated} bytes");
    }

    private static void AssertRefusedCheaply(byte[] file, string problem)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => PyTorchFile.Read(file));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.True(allocated <= (16L * file.Length) + (1 << 20), $"a {file.Length}-byte file made the reader allocate {allocated} bytes");
    }

    private static JsonElement Case(string name) =>
        Fixtures.Value.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    private static int[] Shape(JsonElement tensor) => ConformanceTests.Shape(tensor);

    /// <summary>The JSON's numbers are float32 values written as doubles (exactly), so the cast is exact.</summary>
    private static float[] Floats(JsonElement tensor) => tensor.GetProperty("data").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();

    private static byte[] Bytes(float[] values)
    {
        byte[] bytes = new byte[4 * values.Length];
        for (int k = 0; k < values.Length; k++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * k), values[k]);
        }

        return bytes;
    }

    // A small pickle writer, protocol 2 as torch writes it.
    private static byte[] Proto => [0x80, 2];

    private static byte[] Global(string module, string name) => [(byte)'c', .. Encoding.ASCII.GetBytes(module + "\n" + name + "\n")];

    private static byte[] Str(string s)
    {
        byte[] text = Encoding.UTF8.GetBytes(s);
        return [(byte)'X', .. BitConverter.GetBytes(text.Length), .. text];
    }

    private static byte[] Int(long v) => v is >= int.MinValue and <= int.MaxValue ? [(byte)'J', .. BitConverter.GetBytes((int)v)] : [0x8A, 8, .. BitConverter.GetBytes(v)];

    private static byte[] Ints(long[] values) => [(byte)'(', .. values.SelectMany(Int), (byte)'t'];

    /// <summary><c>_rebuild_tensor_v2(('storage', torch.&lt;type&gt;, key, 'cpu', elements), offset, size, stride, False, OrderedDict())</c>.</summary>
    private static byte[] Tensor(string key, string storageType, long elements, long offset, long[] size, long[] stride) =>
    [
        .. Global("torch._utils", "_rebuild_tensor_v2"), (byte)'(',
        (byte)'(', .. Str("storage"), .. Global("torch", storageType), .. Str(key), .. Str("cpu"), .. Int(elements), (byte)'t', (byte)'Q',
        .. Int(offset), .. Ints(size), .. Ints(stride), 0x89, .. Global("collections", "OrderedDict"), (byte)')', (byte)'R',
        (byte)'t', (byte)'R',
    ];

    /// <summary>A whole pickle: PROTO, a dict of the items, STOP.</summary>
    private static byte[] Dict(params (string Key, byte[] Value)[] items) =>
        [.. Proto, (byte)'}', (byte)'(', .. items.SelectMany(i => (byte[])[.. Str(i.Key), .. i.Value]), (byte)'u', (byte)'.'];

    private static byte[] Build(byte[] pickle, params (string Key, byte[] Bytes)[] storages) => Build(pickle, null, storages);

    /// <summary>An archive as torch writes it: archive/data.pkl, archive/data/&lt;key&gt;, archive/version, optionally archive/byteorder.</summary>
    private static byte[] Build(byte[] pickle, string? byteorder, params (string Key, byte[] Bytes)[] storages) =>
        Zip([("archive/data.pkl", pickle), .. storages.Select(s => ("archive/data/" + s.Key, s.Bytes)), ("archive/version", "3\n"u8.ToArray()), .. byteorder is null ? [] : new[] { ("archive/byteorder", Encoding.ASCII.GetBytes(byteorder)) }]);

    internal static byte[] Zip(params (string Name, byte[] Bytes)[] entries)
    {
        using var file = new MemoryStream();
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach ((string name, byte[] bytes) in entries)
            {
                Write(zip, name, bytes, CompressionLevel.NoCompression);
            }
        }

        return file.ToArray();
    }

    private static void Write(ZipArchive zip, string name, byte[] bytes, CompressionLevel level)
    {
        using Stream s = zip.CreateEntry(name, level).Open();
        s.Write(bytes);
    }

    /// <summary>A tensor view for <see cref="PyTorchFile_AnyView_IsGatheredOrRefused"/>; the storage's bytes are random from <paramref name="Seed"/>.</summary>
    public sealed record ViewCase(string Dtype, long Elements, long Offset, long[] Sizes, long[] Strides, int Seed)
    {
        /// <inheritdoc/>
        public override string ToString() =>
            $"{Dtype} of {Elements} elements, offset {Offset}, size ({string.Join(", ", Sizes)}), stride ({string.Join(", ", Strides)}), seed {Seed}";
    }

    /// <summary>Views of rank 0 to 3 with sizes 0 to 5: row-major, transposed or arbitrary strides (0 to 7); the storage sized around what the view needs.</summary>
    public static class ViewGenerators
    {
        public static Arbitrary<ViewCase> ViewCases() =>
            Arb.From(
                from dtype in Gen.Elements("FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage")
                from rank in Gen.Choose(0, 3)
                from s0 in Gen.Choose(0, 5)
                from s1 in Gen.Choose(0, 5)
                from s2 in Gen.Choose(0, 5)
                from kind in Gen.Choose(0, 2)
                from r0 in Gen.Choose(0, 7)
                from r1 in Gen.Choose(0, 7)
                from r2 in Gen.Choose(0, 7)
                from offset in Gen.Choose(0, 6)
                from slack in Gen.Choose(-2, 4)
                from seed in Generators.Seed
                select Make(dtype, new long[] { s0, s1, s2 }[..rank], kind, new long[] { r0, r1, r2 }[..rank], offset, slack, seed));

        private static ViewCase Make(string dtype, long[] sizes, int kind, long[] random, long offset, int slack, int seed)
        {
            long[] strides = new long[sizes.Length];
            long step = 1;
            for (int k = 0; k < sizes.Length; k++)
            {
                // Row-major (kind 0) goes from the last dimension; transposed (1) from the first; 2 takes the random strides.
                int d = kind == 1 ? k : sizes.Length - 1 - k;
                strides[d] = kind == 2 ? random[d] : step;
                step *= Math.Max(1, sizes[d]);
            }

            long reach = sizes.Contains(0) ? 0 : offset + sizes.Zip(strides).Sum(e => (e.First - 1) * e.Second) + 1;
            return new ViewCase(dtype, Math.Max(0, reach + slack), offset, sizes, strides, seed);
        }
    }
}
