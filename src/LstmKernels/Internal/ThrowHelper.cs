using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace LstmKernels.Internal;

/// <summary>Every throw of the library lives here so that the hot methods stay small and inlinable.</summary>
[StackTraceHidden]
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void LengthMismatch(string paramName, int actual, long expected, string what) =>
        throw new ArgumentException(
            $"'{paramName}' has length {actual}, expected {expected} ({what}).", paramName);

    [DoesNotReturn]
    public static void NotMultiple(string paramName, int actual, long of, string what) =>
        throw new ArgumentException(
            $"'{paramName}' has length {actual}, which is not a multiple of {of} ({what}).", paramName);

    [DoesNotReturn]
    public static void Overlap(string paramName, string other) =>
        throw new ArgumentException(
            $"'{paramName}' overlaps '{other}'. Only the documented exact in-place aliasing is allowed; partial overlap would give a wrong answer.",
            paramName);

    [DoesNotReturn]
    public static void OutOfRange(string paramName, object? actual, string what) =>
        throw new ArgumentOutOfRangeException(paramName, actual, $"'{paramName}' {what}.");

    [DoesNotReturn]
    public static void Argument(string paramName, string message) =>
        throw new ArgumentException(message, paramName);

    /// <summary>Throws unless <paramref name="size"/> (a layer dimension such as hiddenSize) is at least 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CheckSize(int size, string paramName)
    {
        if (size < 1)
        {
            OutOfRange(paramName, size, "must be at least 1");
        }
    }

    /// <summary>
    /// Checks <paramref name="hiddenSize"/> and that <paramref name="length"/> is a whole number of rows of 4·hiddenSize;
    /// returns the number of rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int GateRows(int hiddenSize, int length, string paramName, string what)
    {
        CheckSize(hiddenSize, nameof(hiddenSize));
        long gateRows = 4L * hiddenSize;
        if (length % gateRows != 0)
        {
            NotMultiple(paramName, length, gateRows, what);
        }

        return (int)(length / gateRows);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CheckLength(int actual, long expected, string paramName, string what)
    {
        if (actual != expected)
        {
            LengthMismatch(paramName, actual, expected, what);
        }
    }
}

/// <summary>Overlap rules shared by every kernel.</summary>
internal static class Aliasing
{
    /// <summary>
    /// The overlap rules of a sequence call <c>(x, h0, c0) → (y, hT, cT)</c>, one vocabulary for the cell and the layers:
    /// y overlaps nothing; hT may be exactly h0 and cT exactly c0 (in place); no other overlap.
    /// </summary>
    public static void Sequence(ReadOnlySpan<float> x, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> y, Span<float> hT, Span<float> cT)
    {
        Disjoint(y, x, nameof(y), nameof(x));
        Disjoint(y, h0, nameof(y), nameof(h0));
        Disjoint(y, c0, nameof(y), nameof(c0));
        Disjoint(y, hT, nameof(y), nameof(hT));
        Disjoint(y, cT, nameof(y), nameof(cT));
        AllowExactOnly(hT, h0, nameof(hT), nameof(h0));
        Disjoint(hT, x, nameof(hT), nameof(x));
        Disjoint(hT, c0, nameof(hT), nameof(c0));
        Disjoint(hT, cT, nameof(hT), nameof(cT));
        AllowExactOnly(cT, c0, nameof(cT), nameof(c0));
        Disjoint(cT, x, nameof(cT), nameof(x));
        Disjoint(cT, h0, nameof(cT), nameof(h0));
    }

    /// <summary>True when the two spans share memory but do not start at the same address with the same length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool PartiallyOverlaps(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        a.Overlaps(b, out int offset) && (offset != 0 || a.Length != b.Length);

    /// <summary>Throws when <paramref name="output"/> overlaps <paramref name="input"/> in any way except exact aliasing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AllowExactOnly(ReadOnlySpan<float> output, ReadOnlySpan<float> input, string outputName, string inputName)
    {
        if (PartiallyOverlaps(output, input))
        {
            ThrowHelper.Overlap(outputName, inputName);
        }
    }

    /// <summary>Throws when <paramref name="output"/> shares any memory with <paramref name="input"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Disjoint(ReadOnlySpan<float> output, ReadOnlySpan<float> input, string outputName, string inputName)
    {
        if (output.Overlaps(input))
        {
            ThrowHelper.Overlap(outputName, inputName);
        }
    }
}
