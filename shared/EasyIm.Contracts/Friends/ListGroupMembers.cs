namespace EasyIm.Contracts.Friends;

/// <summary>Only members may list. Replies <see cref="GroupMemberList"/> or <see cref="RequestRejected"/>.</summary>
public sealed record ListGroupMembers(long UserId, long GroupId);
