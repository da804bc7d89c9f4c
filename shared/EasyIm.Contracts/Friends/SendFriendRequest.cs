namespace EasyIm.Contracts.Friends;

/// <summary>Sent by the inviter. Replies <see cref="FriendRequestSent"/> or <see cref="RequestRejected"/> (404 unknown user, 409 already friends or already pending).</summary>
public sealed record SendFriendRequest(long FromUserId, long ToUserId, string? Message);
