using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LstmKernels.Internal;

/// <summary>
/// The last, partial panel of a kernel: a zeroed scratch of <c>k</c> slots of <see cref="PanelWidth.Value"/> floats
/// (from the caller's <c>stackalloc</c>), into which the kernel gathers the tails of its inputs, runs the same
/// sixteen-wide panel code as on full panels, then scatters the output slots back.
/// </summary>
/// <remarks>
/// Why not a scalar loop for the tail: the padded copy gives the last elements the same bits they would get in a full
/// panel, so a value's result does not depend on its position or on the span's length. The zero padding keeps the
/// unused lanes finite (no spurious NaN, no denormal slowdown).
/// <code>
/// var tail = new PaddedTail(stackalloc float[2 * PanelWidth.Value]);
/// tail.Gather(0, o[k..]);
/// tail.Gather(1, c[k..]);
/// Core(tail.Slot(0), tail.Slot(1), tail.Slot(0));   // output in slot 0
/// tail.Scatter(0, h[k..]);
/// </code>
/// </remarks>
internal readonly ref struct PaddedTail
{
    private const int W = PanelWidth.Value;
    private readonly Span<float> slots;

    /// <summary>Takes <paramref name="scratch"/> (a multiple of <see cref="PanelWidth.Value"/> floats) and zeroes it.</summary>
    public PaddedTail(Span<float> scratch)
    {
        Debug.Assert(scratch.Length % W == 0, "The scratch holds whole slots.");
        scratch.Clear();
        slots = scratch;
    }

    /// <summary>The first float of slot <paramref name="slot"/>.</summary>
    public ref float this[int slot]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref Unsafe.Add(ref MemoryMarshal.GetReference(slots), slot * W);
    }

    /// <summary>Slot <paramref name="slot"/> as a span of <see cref="PanelWidth.Value"/> floats.</summary>
    public Span<float> Slot(int slot) => slots.Slice(slot * W, W);

    /// <summary>Zeroes every slot again, for the next row of a batch.</summary>
    public void Clear() => slots.Clear();

    /// <summary>Copies <paramref name="source"/> (at most one slot) into slot <paramref name="slot"/>; the rest stays as it was.</summary>
    public void Gather(int slot, ReadOnlySpan<float> source)
    {
        Debug.Assert(source.Length <= W, "A tail is shorter than a panel.");
        source.CopyTo(slots[(slot * W)..]);
    }

    /// <summary>Copies the first <c>destination.Length</c> floats of slot <paramref name="slot"/> to <paramref name="destination"/>.</summary>
    public void Scatter(int slot, Span<float> destination)
    {
        Debug.Assert(destination.Length <= W, "A tail is shorter than a panel.");
        slots.Slice(slot * W, destination.Length).CopyTo(destination);
    }
}
