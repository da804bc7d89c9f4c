using EasyIm.Contracts.Gateway;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// Events another service's change caused (friends: FRIEND_INVITE, FRIEND_AGREE, FRIEND_REMOVE, GROUP_JOIN,
/// GROUP_LEAVE), for messaging to append to their recipients' update streams, the one stream of positions chat
/// messages take too, and push with their positions. The sender stages it in its outbox, in the change's
/// transaction, so it is published at least once; each update's <see cref="StreamUpdate.Id"/> makes a repeat
/// append nothing (a repeat is pushed again, at the position it was given).
/// </summary>
public sealed record AppendStreamUpdates(IReadOnlyList<StreamUpdate> Updates);

/// <summary>One event for one user: <paramref name="Event"/> is typed (<see cref="WireMessage.Event"/>); messaging sets its position.</summary>
public sealed record StreamUpdate(Guid Id, long UserId, WireMessage Event);
