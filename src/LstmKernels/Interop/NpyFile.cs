using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace LstmKernels.Interop;

/// <summary>
/// Reads and writes numpy's <c>.npy</c> format (versions 1.0, 2.0, 3.0): the magic <c>\x93NUMPY</c>, a version, a
/// header length, a Python dict literal <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (2, 3), }</c>, then
/// the raw data.
/// </summary>
/// <remarks>
/// Strict: dtypes float16/32/64 in either byte order are read (converted to float32); anything else, a malformed
/// header, a header over 64 KiB, a data size that does not match the shape exactly, or truncation gives
/// <see cref="InvalidDataException"/> naming it. Fortran-ordered arrays are converted to row-major. Memory use is
/// bounded by the file's size.
/// </remarks>
public static class NpyFile
{
    /// <summary>The largest header accepted.</summary>
    public const int MaxHeaderBytes = 65536;

    private const string Format = ".npy";

    /// <summary>Reads one <c>.npy</c> file.</summary>
    /// <param name="file">The whole file.</param>
    /// <param name="name">The name to give the tensor.</param>
    /// <returns>The array as a float32 tensor in row-major order.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a valid .npy file of a float dtype.</exception>
    public static FloatTensor Read(ReadOnlySpan<byte> file, string name = "")
    {
        ReadOnlySpan<byte> magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
        if (file.Length < 10 || !file[..6].SequenceEqual(magic))
        {
            InteropThrow.Invalid(Format, "it does not start with the magic \\x93NUMPY and a version (truncated or not numpy).");
        }

        int major = file[6];
        int headerLength, start;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(file[8..]);
            start = 10;
        }
        else if (major is 2 or 3 && file.Length >= 12)
        {
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(file[8..]);
            headerLength = length > MaxHeaderBytes ? int.MaxValue : (int)length;
            start = 12;
        }
        else
        {
            return InteropThrow.Invalid<FloatTensor>(Format, $"version {major}.{file[7]} is not supported (1.0, 2.0 and 3.0 are).");
        }

        if (headerLength > MaxHeaderBytes || headerLength > file.Length - start)
        {
            InteropThrow.Invalid(Format, $"the header length {headerLength} exceeds the file ({file.Length - start} bytes left) or the {MaxHeaderBytes}-byte limit.");
        }

        string header;
        try
        {
            header = new UTF8Encoding(false, true).GetString(file.Slice(start, headerLength));
        }
        catch (DecoderFallbackException)
        {
            return InteropThrow.Invalid<FloatTensor>(Format, "the header is not valid text.");
        }

        (string descr, bool fortran, long[] shape) = ParseHeader(header);
        bool bigEndian = descr[0] == '>';
        int size = descr[2] - '0';
        long count = Elements.Count(shape);
        if (count < 0)
        {
            InteropThrow.Invalid(Format, "the shape has more elements than one array can hold.");
        }

        ReadOnlySpan<byte> data = file[(start + headerLength)..];
        if (data.Length != count * size)
        {
            InteropThrow.Invalid(Format, $"the data holds {data.Length} bytes but shape ({string.Join(", ", shape)}) of '{descr}' needs {count * size}.");
        }

        float[] values = Elements.ToFloats(data, size, brain: false, bigEndian, (int)count);
        int[] dims = Array.ConvertAll(shape, d => (int)d);
        if (fortran && dims.Length > 1)
        {
            values = FromFortran(values, dims);
        }

        return FloatTensor.Owned(name, dims, values);
    }

    /// <summary>Writes a float32 array as a version 1.0 <c>.npy</c> file (<c>'&lt;f4'</c>, C order).</summary>
    /// <param name="tensor">The array.</param>
    /// <returns>The file's bytes.</returns>
    public static byte[] Write(FloatTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ReadOnlySpan<int> shape = tensor.Shape;
        string dims = shape.Length == 1 ? shape[0].ToString(CultureInfo.InvariantCulture) + "," : string.Join(", ", shape.ToArray());
        string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";

        // Pad with spaces and a newline so that the data starts at a multiple of 64 bytes, as numpy does.
        int total = (10 + dict.Length + 1 + 63) / 64 * 64;
        string header = dict.PadRight(total - 10 - 1) + "\n";
        byte[] file = new byte[total + (4 * tensor.Length)];
        ReadOnlySpan<byte> magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0];
        magic.CopyTo(file);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), (ushort)header.Length);
        Encoding.ASCII.GetBytes(header, file.AsSpan(10));
        for (int k = 0; k < tensor.Length; k++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(file.AsSpan(total + (4 * k)), tensor.Data[k]);
        }

        return file;
    }

    private static float[] FromFortran(float[] values, int[] dims)
    {
        // Element (i0, …, iₙ₋₁) is at Σ iₖ·(d0·…·dₖ₋₁) in Fortran order; walk the C order with an odometer.
        float[] result = new float[values.Length];
        int n = dims.Length;
        int[] index = new int[n];
        long[] stride = new long[n];
        long s = 1;
        for (int k = 0; k < n; k++)
        {
            stride[k] = s;
            s *= dims[k];
        }

        for (int c = 0; c < result.Length; c++)
        {
            long f = 0;
            for (int k = 0; k < n; k++)
            {
                f += index[k] * stride[k];
            }

            result[c] = values[f];
            for (int k = n - 1; k >= 0; k--)
            {
                if (++index[k] < dims[k])
                {
                    break;
                }

                index[k] = 0;
            }
        }

        return result;
    }

    private static (string Descr, bool Fortran, long[] Shape) ParseHeader(string text)
    {
        var p = new Parser(text);
        string? descr = null;
        bool? fortran = null;
        long[]? shape = null;
        p.Expect('{');
        while (!p.TryTake('}'))
        {
            string key = p.String();
            p.Expect(':');
            switch (key)
            {
                case "descr" when descr is null:
                    descr = p.String();
                    break;
                case "fortran_order" when fortran is null:
                    fortran = p.Boolean();
                    break;
                case "shape" when shape is null:
                    shape = p.Tuple();
                    break;
                default:
                    InteropThrow.Invalid(Format, $"the header has an unexpected or repeated key '{key}'.");
                    break;
            }

            if (!p.TryTake(','))
            {
                p.Expect('}');
                break;
            }
        }

        p.End();
        if (descr is null || fortran is null || shape is null)
        {
            InteropThrow.Invalid(Format, "the header needs 'descr', 'fortran_order' and 'shape'.");
        }

        if (descr is not ("<f4" or ">f4" or "<f8" or ">f8" or "<f2" or ">f2" or "=f4" or "=f8" or "=f2"))
        {
            InteropThrow.Invalid(Format, $"dtype '{descr}' is not supported; float16, float32 and float64 are.");
        }

        return (descr[0] == '=' ? "<" + descr[1..] : descr, fortran.Value, shape);
    }

    /// <summary>A tokenizer for the one Python literal numpy writes.</summary>
    private ref struct Parser(string text)
    {
        private int at;

        public void Expect(char c)
        {
            if (!TryTake(c))
            {
                InteropThrow.Invalid(Format, $"the header has '{Peek()}' at {at} where '{c}' belongs.");
            }
        }

        public bool TryTake(char c)
        {
            SkipSpaces();
            if (at < text.Length && text[at] == c)
            {
                at++;
                return true;
            }

            return false;
        }

        public string String()
        {
            SkipSpaces();
            char quote = at < text.Length ? text[at] : '\0';
            if (quote is not ('\'' or '"'))
            {
                InteropThrow.Invalid(Format, $"the header has '{Peek()}' at {at} where a string belongs.");
            }

            int end = text.IndexOf(quote, at + 1);
            if (end < 0 || end - at > 64)
            {
                InteropThrow.Invalid(Format, "the header has an unterminated or overlong string.");
            }

            string s = text[(at + 1)..end];
            at = end + 1;
            return s;
        }

        public bool Boolean()
        {
            SkipSpaces();
            foreach ((string word, bool value) in (ReadOnlySpan<(string, bool)>)[("True", true), ("False", false)])
            {
                if (string.CompareOrdinal(text, at, word, 0, word.Length) == 0)
                {
                    at += word.Length;
                    return value;
                }
            }

            return InteropThrow.Invalid<bool>(Format, $"the header has '{Peek()}' at {at} where True or False belongs.");
        }

        public long[] Tuple()
        {
            Expect('(');
            var dims = new List<long>();
            while (!TryTake(')'))
            {
                SkipSpaces();
                int begin = at;
                while (at < text.Length && char.IsAsciiDigit(text[at]) && at - begin < 12)
                {
                    at++;
                }

                if (at == begin || !long.TryParse(text.AsSpan(begin, at - begin), NumberStyles.None, CultureInfo.InvariantCulture, out long d) || d > int.MaxValue || dims.Count >= 32)
                {
                    return InteropThrow.Invalid<long[]>(Format, $"the shape has '{Peek()}' at {at} where a dimension (0..{int.MaxValue}, at most 32 of them) belongs.");
                }

                dims.Add(d);
                if (!TryTake(','))
                {
                    Expect(')');
                    break;
                }
            }

            return dims.ToArray();
        }

        public void End()
        {
            SkipSpaces();
            if (at != text.Length)
            {
                InteropThrow.Invalid(Format, $"the header has '{Peek()}' at {at} after the dict.");
            }
        }

        private void SkipSpaces()
        {
            while (at < text.Length && text[at] is ' ' or '\n' or '\t' or '\r')
            {
                at++;
            }
        }

        private readonly string Peek() => at < text.Length ? text[at].ToString() : "end of header";
    }
}
