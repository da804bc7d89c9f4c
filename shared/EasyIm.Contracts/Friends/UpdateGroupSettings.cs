namespace EasyIm.Contracts.Friends;

/// <summary>
/// The owner changes a group's settings; a null setting is left as it is. Replies
/// <see cref="GroupSettingsUpdated"/> or <see cref="RequestRejected"/> (403 not the owner, 404 no such group).
/// </summary>
public sealed record UpdateGroupSettings(long UserId, long GroupId, string? InvitePolicy);
