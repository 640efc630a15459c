using System.Buffers.Binary;
using LstmKernels.Interop.Onnx;

namespace LstmKernels.Interop;

/// <summary>
/// Decodes ONNX TensorProtos (raw_data, typed data fields, external data in the model's folder) into
/// <see cref="ConstValue"/>s, checking every declared size against the bytes actually there before allocating.
/// </summary>
internal static class OnnxTensors
{
    private const string Format = "ONNX";

    /// <summary>Decodes a tensor; <paramref name="what"/> names it in errors (e.g. "initializer 'W'").</summary>
    public static ConstValue Decode(TensorProto t, string what, string? folder, ref long externalBytes)
    {
        if (t.Segment is not null)
        {
            InteropThrow.Invalid(Format, $"{what} is a segment of a larger tensor; segments are not read.");
        }

        long[] dims = [.. t.Dims];
        long count = Elements.Count(dims);
        if (count < 0)
        {
            InteropThrow.Invalid(Format, $"{what} has dims [{string.Join(", ", dims)}]: negative, or more elements than one array can hold.");
        }

        int n = (int)count;
        var type = (TensorProto.Types.DataType)t.DataType;
        int size = ElementSize(type);
        if (size == 0)
        {
            InteropThrow.Invalid(Format, $"{what} has data type {t.DataType} ({type}); only float, float16, bfloat16, double, bool and integer tensors are read.");
        }

        ReadOnlySpan<byte> raw = t.RawData.Span;
        byte[]? external = null;
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
        {
            external = ReadExternal(t, what, folder, (long)n * size, ref externalBytes);
            raw = external;
        }
        else if (t.DataLocation != TensorProto.Types.DataLocation.Default)
        {
            InteropThrow.Invalid(Format, $"{what} has data_location {(int)t.DataLocation}, neither DEFAULT nor EXTERNAL.");
        }

        bool hasRaw = external is not null || !t.RawData.IsEmpty;
        if (hasRaw)
        {
            if ((long)raw.Length != (long)n * size)
            {
                InteropThrow.Invalid(Format, $"{what} has {raw.Length} bytes of data, but dims [{string.Join(", ", dims)}] of {type} need {(long)n * size}.");
            }

            return FromRaw(raw, type, dims, n);
        }

        return FromTyped(t, type, dims, n, what);
    }

    private static int ElementSize(TensorProto.Types.DataType type) => type switch
    {
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Uint32 => 4,
        TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16 or TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Uint16 => 2,
        TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Uint64 => 8,
        TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Bool => 1,
        _ => 0,
    };

    private static bool IsFloat(TensorProto.Types.DataType type) =>
        type is TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16 or TensorProto.Types.DataType.Double;

    private static ConstValue FromRaw(ReadOnlySpan<byte> raw, TensorProto.Types.DataType type, long[] dims, int n)
    {
        if (IsFloat(type))
        {
            int size = ElementSize(type);
            return new ConstValue(dims, Elements.ToFloats(raw, size, type == TensorProto.Types.DataType.Bfloat16, bigEndian: false, n), null);
        }

        long[] values = new long[n];
        for (int k = 0; k < n; k++)
        {
            values[k] = type switch
            {
                TensorProto.Types.DataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * k)..]),
                TensorProto.Types.DataType.Uint64 => (long)BinaryPrimitives.ReadUInt64LittleEndian(raw[(8 * k)..]),
                TensorProto.Types.DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * k)..]),
                TensorProto.Types.DataType.Uint32 => BinaryPrimitives.ReadUInt32LittleEndian(raw[(4 * k)..]),
                TensorProto.Types.DataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(raw[(2 * k)..]),
                TensorProto.Types.DataType.Uint16 => BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * k)..]),
                TensorProto.Types.DataType.Int8 => (sbyte)raw[k],
                _ => raw[k],
            };
        }

        return new ConstValue(dims, null, values);
    }

    private static ConstValue FromTyped(TensorProto t, TensorProto.Types.DataType type, long[] dims, int n, string what)
    {
        int have = type switch
        {
            TensorProto.Types.DataType.Float => t.FloatData.Count,
            TensorProto.Types.DataType.Double => t.DoubleData.Count,
            TensorProto.Types.DataType.Int64 => t.Int64Data.Count,
            TensorProto.Types.DataType.Uint64 or TensorProto.Types.DataType.Uint32 => t.Uint64Data.Count,
            _ => t.Int32Data.Count,
        };
        if (have != n)
        {
            InteropThrow.Invalid(Format, $"{what} holds {have} values, but dims [{string.Join(", ", dims)}] need {n}.");
        }

        if (IsFloat(type))
        {
            float[] f = new float[n];
            for (int k = 0; k < n; k++)
            {
                f[k] = type switch
                {
                    TensorProto.Types.DataType.Float => t.FloatData[k],
                    TensorProto.Types.DataType.Double => (float)t.DoubleData[k],
                    TensorProto.Types.DataType.Bfloat16 => BitConverter.Int32BitsToSingle((t.Int32Data[k] & 0xFFFF) << 16),
                    _ => (float)BitConverter.Int16BitsToHalf((short)t.Int32Data[k]),
                };
            }

            return new ConstValue(dims, f, null);
        }

        long[] values = new long[n];
        for (int k = 0; k < n; k++)
        {
            values[k] = type switch
            {
                TensorProto.Types.DataType.Int64 => t.Int64Data[k],
                TensorProto.Types.DataType.Uint64 or TensorProto.Types.DataType.Uint32 => (long)t.Uint64Data[k],
                _ => t.Int32Data[k],
            };
        }

        return new ConstValue(dims, null, values);
    }

    /// <summary>
    /// Reads external data from the model's folder only: the location must be a relative path that stays inside it (no
    /// rooted path, no <c>..</c> out of it, no link that leads out of it), and offset and length must lie in the file.
    /// </summary>
    private static byte[] ReadExternal(TensorProto t, string what, string? folder, long needed, ref long externalBytes)
    {
        string? location = null;
        long offset = 0, length = -1;
        foreach (StringStringEntryProto e in t.ExternalData)
        {
            switch (e.Key)
            {
                case "location":
                    location = e.Value;
                    break;
                case "offset" when long.TryParse(e.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long o):
                    offset = o;
                    break;
                case "length" when long.TryParse(e.Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long l):
                    length = l;
                    break;
                case "checksum":
                    break;
                default:
                    InteropThrow.Invalid(Format, $"{what} has external data entry '{e.Key}' = '{e.Value}', which is not understood.");
                    break;
            }
        }

        if (folder is null)
        {
            InteropThrow.Invalid(Format, $"{what} is stored in an external file; read the model with OnnxFile.ReadLstm(path) so that it can be found next to the model.");
        }

        if (string.IsNullOrEmpty(location) || location.Contains('\0', StringComparison.Ordinal) || Path.IsPathRooted(location))
        {
            InteropThrow.Invalid(Format, $"{what} has external location '{location}'; it must be a file name relative to the model's folder.");
        }

        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        string full = Path.GetFullPath(Path.Combine(root, location));
        if (!full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            InteropThrow.Invalid(Format, $"{what} has external location '{location}', which leads out of the model's folder; only files in that folder are read.");
        }

        // A link anywhere below the folder (the file, or a directory on the way to it) must lead into the folder too.
        for (string? at = full; at is not null && at.Length > root.Length; at = Path.GetDirectoryName(at))
        {
            FileSystemInfo entry = at == full ? new FileInfo(at) : new DirectoryInfo(at);
            if (entry.LinkTarget is not null)
            {
                string target = entry.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? at;
                if (!Path.GetFullPath(target).StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                {
                    InteropThrow.Invalid(Format, $"{what} has external location '{location}', through a link that leads out of the model's folder.");
                }
            }
        }

        var info = new FileInfo(full);
        if (info.LinkTarget is not null)
        {
            // The length is the target's (a link's own length is that of the path it holds).
            info = info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
        }

        if (!info.Exists)
        {
            InteropThrow.Invalid(Format, $"{what} has external location '{location}', which is not a file in the model's folder.");
        }

        long fileLength = info.Length;
        if (length < 0)
        {
            length = fileLength - offset;
        }

        if (offset < 0 || offset > fileLength || length > fileLength - offset || length != needed)
        {
            InteropThrow.Invalid(Format, $"{what} asks for {length} bytes at offset {offset} of '{location}' ({fileLength} bytes), and its dims need {needed}.");
        }

        externalBytes += length;
        byte[] bytes = new byte[length];
        using var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
        stream.Position = offset;
        stream.ReadExactly(bytes);
        return bytes;
    }
}
