namespace EasyIm.Contracts.Friends;

/// <summary>By a member; invitees must be the member's friends. Replies <see cref="GroupMembersChanged"/> or <see cref="RequestRejected"/>.</summary>
public sealed record InviteToGroup(long UserId, long GroupId, IReadOnlyList<long> UserIds);
