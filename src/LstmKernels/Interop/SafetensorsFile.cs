using System.Buffers.Binary;
using System.Text.Json;

namespace LstmKernels.Interop;

/// <summary>
/// Reads and writes the safetensors format (what <c>safetensors.torch.save_file(model.state_dict(), path)</c> writes):
/// an 8-byte little-endian header size N, N bytes of JSON
/// <c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}</c>, then the data.
/// </summary>
/// <remarks>
/// Strict: every problem (truncation, a header larger than 100 MB or than the file, bad JSON, an unknown key, a
/// dtype other than F32/F16/BF16/F64, negative or oversized dimensions, offsets outside the data, tensors that
/// overlap or leave holes, a size that does not match the shape) gives <see cref="InvalidDataException"/> naming
/// it. Memory use is bounded by the file's size: nothing is allocated from a size the file merely claims.
/// Values are converted to float32.
/// </remarks>
public static class SafetensorsFile
{
    /// <summary>The largest JSON header accepted (the format's own limit).</summary>
    public const int MaxHeaderBytes = 100_000_000;

    private const string Format = "safetensors";

    /// <summary>Reads a safetensors file from disk.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The tensors by name.</returns>
    /// <exception cref="InvalidDataException">The file is not valid safetensors.</exception>
    public static IReadOnlyDictionary<string, FloatTensor> ReadFile(string path) => Read(File.ReadAllBytes(path));

    /// <summary>Reads safetensors bytes.</summary>
    /// <param name="file">The whole file.</param>
    /// <returns>The tensors by name (the <c>__metadata__</c> entry is validated and dropped).</returns>
    /// <exception cref="InvalidDataException">The bytes are not valid safetensors.</exception>
    public static IReadOnlyDictionary<string, FloatTensor> Read(ReadOnlySpan<byte> file)
    {
        if (file.Length < 8)
        {
            InteropThrow.Invalid(Format, $"truncated: {file.Length} bytes, fewer than the 8-byte header size.");
        }

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (n > MaxHeaderBytes || n > (ulong)(file.Length - 8))
        {
            InteropThrow.Invalid(Format, $"the header claims {n} bytes, but the file has {file.Length - 8} after the size (and the limit is {MaxHeaderBytes}).");
        }

        int headerLength = (int)n;
        ReadOnlySpan<byte> data = file[(8 + headerLength)..];
        if (!System.Text.Unicode.Utf8.IsValid(file.Slice(8, headerLength)))
        {
            InteropThrow.Invalid(Format, "the header is not valid UTF-8.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(file.Slice(8, headerLength).ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            return InteropThrow.Invalid<IReadOnlyDictionary<string, FloatTensor>>(Format, "the header is not valid JSON: " + e.Message);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                InteropThrow.Invalid(Format, "the header is not a JSON object.");
            }

            var tensors = new Dictionary<string, FloatTensor>(StringComparer.Ordinal);
            var ranges = new List<(long Begin, long End, string Name)>();
            bool sawMetadata = false;
            foreach (JsonProperty property in root.EnumerateObject())
            {
                string name = property.Name;
                if (name == "__metadata__")
                {
                    if (sawMetadata || property.Value.ValueKind != JsonValueKind.Object)
                    {
                        InteropThrow.Invalid(Format, "'__metadata__' is repeated or not an object.");
                    }

                    sawMetadata = true;
                    foreach (JsonProperty m in property.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                        {
                            InteropThrow.Invalid(Format, $"'__metadata__.{m.Name}' is not a string.");
                        }
                    }

                    continue;
                }

                if (tensors.ContainsKey(name))
                {
                    InteropThrow.Invalid(Format, $"tensor '{name}' appears twice.");
                }

                (FloatTensor tensor, long begin, long end) = ReadTensor(name, property.Value, data);
                tensors.Add(name, tensor);
                ranges.Add((begin, end, name));
            }

            // The tensors must tile the data exactly: no overlap, no hole, nothing after the last one.
            ranges.Sort((a, b) => a.Begin.CompareTo(b.Begin));
            long at = 0;
            foreach ((long begin, long end, string name) in ranges)
            {
                if (begin != at)
                {
                    InteropThrow.Invalid(Format, $"tensor '{name}' starts at data offset {begin}, expected {at} (tensors overlap or leave a hole).");
                }

                at = end;
            }

            if (at != data.Length)
            {
                InteropThrow.Invalid(Format, $"the tensors cover {at} bytes of data but the file holds {data.Length}.");
            }

            return tensors;
        }
    }

    /// <summary>Writes tensors as safetensors with dtype F32 (in the given order).</summary>
    /// <param name="tensors">The tensors; names must be distinct and not <c>__metadata__</c>.</param>
    /// <returns>The file's bytes.</returns>
    /// <exception cref="ArgumentException">Two tensors share a name.</exception>
    public static byte[] Write(IEnumerable<FloatTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            long offset = 0;
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (FloatTensor t in list)
            {
                if (!names.Add(t.Name) || t.Name == "__metadata__")
                {
                    Internal.ThrowHelper.Argument(nameof(tensors), $"the tensor name '{t.Name}' is repeated or reserved.");
                }

                json.WriteStartObject(t.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in t.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += 4L * t.Length;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        // Pad the header with spaces to a multiple of 8 so that the data is aligned, as the reference writer does.
        int padded = (int)((header.Length + 7) / 8 * 8);
        using var file = new MemoryStream();
        Span<byte> size = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(size, (ulong)padded);
        file.Write(size);
        file.Write(header.GetBuffer().AsSpan(0, (int)header.Length));
        for (long k = header.Length; k < padded; k++)
        {
            file.WriteByte((byte)' ');
        }

        Span<byte> four = stackalloc byte[4];
        foreach (FloatTensor t in list)
        {
            foreach (float v in t.Data)
            {
                BinaryPrimitives.WriteSingleLittleEndian(four, v);
                file.Write(four);
            }
        }

        return file.ToArray();
    }

    private static (FloatTensor Tensor, long Begin, long End) ReadTensor(string name, JsonElement info, ReadOnlySpan<byte> data)
    {
        if (info.ValueKind != JsonValueKind.Object)
        {
            InteropThrow.Invalid(Format, $"the entry of tensor '{name}' is not an object.");
        }

        string? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        foreach (JsonProperty p in info.EnumerateObject())
        {
            switch (p.Name)
            {
                case "dtype" when dtype is null && p.Value.ValueKind == JsonValueKind.String:
                    dtype = p.Value.GetString()!;
                    break;
                case "shape" when shape is null:
                    shape = Integers(name, "shape", p.Value, 64);
                    break;
                case "data_offsets" when offsets is null:
                    offsets = Integers(name, "data_offsets", p.Value, 2);
                    break;
                default:
                    InteropThrow.Invalid(Format, $"tensor '{name}' has an unexpected, repeated or mistyped key '{p.Name}'.");
                    break;
            }
        }

        if (dtype is null || shape is null || offsets is null || offsets.Length != 2)
        {
            InteropThrow.Invalid(Format, $"tensor '{name}' needs 'dtype', 'shape' and 'data_offsets' [begin, end].");
        }

        (int size, bool brain) = dtype switch
        {
            "F32" => (4, false),
            "F16" => (2, false),
            "BF16" => (2, true),
            "F64" => (8, false),
            _ => (0, false),
        };
        if (size == 0)
        {
            InteropThrow.Invalid(Format, $"tensor '{name}' has dtype '{dtype}'; only F32, F16, BF16 and F64 are read.");
        }

        long count = Elements.Count(shape);
        if (count < 0)
        {
            InteropThrow.Invalid(Format, $"tensor '{name}' has a shape with more elements than one array can hold.");
        }

        long begin = offsets[0], end = offsets[1];
        if (begin > end || end > data.Length)
        {
            InteropThrow.Invalid(Format, $"tensor '{name}' has data_offsets [{begin}, {end}] outside the {data.Length} bytes of data.");
        }

        if (end - begin != count * size)
        {
            InteropThrow.Invalid(Format, $"tensor '{name}' has {end - begin} bytes of data but its shape and dtype need {count * size}.");
        }

        int[] dims = Array.ConvertAll(shape, d => (int)d);
        float[] values = Elements.ToFloats(data[(int)begin..(int)end], size, brain, bigEndian: false, (int)count);
        return (FloatTensor.Owned(name, dims, values), begin, end);
    }

    private static long[] Integers(string name, string key, JsonElement array, int max)
    {
        if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() > max)
        {
            InteropThrow.Invalid(Format, $"tensor '{name}': '{key}' is not an array of at most {max} integers.");
        }

        long[] values = new long[array.GetArrayLength()];
        int k = 0;
        foreach (JsonElement e in array.EnumerateArray())
        {
            long v = -1;
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out v) || v < 0)
            {
                InteropThrow.Invalid(Format, $"tensor '{name}': '{key}' holds {e.GetRawText()}, not a non-negative integer.");
            }

            values[k++] = v;
        }

        return values;
    }
}
