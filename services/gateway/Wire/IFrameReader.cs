using System.Buffers;

namespace EasyIm.Gateway.Wire;

/// <summary>Cuts a byte stream into frames; knows nothing about what a frame means.</summary>
public interface IFrameReader
{
    /// <summary>
    /// Takes the next whole frame off the front of <paramref name="buffer"/>. Returns false when the
    /// buffer holds only part of one (read more, then call again with everything unconsumed).
    /// Throws <see cref="FrameException"/> as soon as the bytes cannot become a frame within the
    /// limit, before buffering any more of it.
    /// </summary>
    bool TryParseFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame);
}
