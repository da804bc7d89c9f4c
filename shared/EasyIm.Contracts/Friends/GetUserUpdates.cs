using EasyIm.Contracts.Gateway;

namespace EasyIm.Contracts.Friends;

/// <summary>
/// The events of a user's update stream after position <paramref name="After"/>, oldest first, at most
/// <paramref name="Limit"/>. Answered with <see cref="UserUpdatesPage"/>.
/// </summary>
public sealed record GetUserUpdates(long UserId, long After, int Limit)
{
    /// <summary>The most events one page holds.</summary>
    public const int MaxLimit = 500;
}

/// <summary>
/// A page of a user's update stream: the events (msg_type 4, their content carrying <c>data.position</c>), the last
/// position the user has (<paramref name="Last"/>; more after the page when it exceeds the last one returned), and the
/// oldest position still kept (<paramref name="Oldest"/>, 0 when none; older ones were pruned).
/// </summary>
public sealed record UserUpdatesPage(IReadOnlyList<WireMessage> Updates, long Last, long Oldest);
