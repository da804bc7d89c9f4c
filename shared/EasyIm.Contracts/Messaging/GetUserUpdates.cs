using EasyIm.Contracts.Gateway;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// The events of a user's update stream after position <paramref name="After"/> (friend and group events; the chat
/// messages between them, at the positions the page skips, are read by a sync after the same position), oldest first,
/// at most <paramref name="Limit"/>. Answered with <see cref="UserUpdatesPage"/>.
/// </summary>
public sealed record GetUserUpdates(long UserId, long After, int Limit)
{
    /// <summary>The most events one page holds.</summary>
    public const int MaxLimit = 500;
}

/// <summary>
/// A page of a user's update stream's events: the events (msg_type 4, their content carrying <c>data.position</c>), the
/// user's newest position (<paramref name="Last"/>, chat messages included), whether more events follow the page
/// (<paramref name="More"/>), and the oldest position still kept (<paramref name="Oldest"/>, 0 when none; older ones were pruned).
/// </summary>
public sealed record UserUpdatesPage(IReadOnlyList<WireMessage> Updates, long Last, long Oldest, bool More = false);
