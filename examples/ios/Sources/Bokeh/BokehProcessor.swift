// Thin Swift wrapper over the bokeh C API (include/bokeh.h) for camera frames on iOS.
// Not compiled in this repository's CI (no Xcode there); see ../README.md for how to build it.

import CBokeh
import CoreVideo
import Foundation

/// An error from the bokeh library: the status code and the library's message.
public struct BokehError: Error, CustomStringConvertible {
    public let status: bokeh_status
    public let message: String
    public var description: String {
        "\(String(cString: bokeh_status_name(Int32(status.rawValue)))): \(message)"
    }
}

@discardableResult
private func check(_ status: bokeh_status) throws -> bokeh_status {
    guard status == BOKEH_STATUS_OK else {
        throw BokehError(status: status, message: String(cString: bokeh_last_error()))
    }
    return status
}

/// What to produce.
public enum BokehMode: UInt32 { case blur = 0, replace = 1, cutout = 2, mask = 3 }

/// How the camera stores its frames relative to upright: the clockwise rotation that makes them
/// upright (for `AVCaptureVideoDataOutput` buffers, which stay in the sensor's landscape
/// orientation unless the connection rotates them: `AVCaptureDevice.RotationCoordinator`'s
/// `videoRotationAngleForHorizonLevelCapture`), and whether the upright output is mirrored (the
/// front camera's preview).
public struct BokehOrientation: Equatable {
    public var rotationDegrees: UInt32
    public var mirrored: Bool
    public init(rotationDegrees: UInt32 = 0, mirrored: Bool = false) {
        self.rotationDegrees = rotationDegrees
        self.mirrored = mirrored
    }
}

private func makeSettings(_ mode: BokehMode, _ strength: Float, _ smoothing: Bool, _ o: BokehOrientation) throws
    -> bokeh_settings
{
    var settings = bokeh_settings()
    try check(bokeh_settings_init(&settings))
    settings.mode = mode.rawValue
    settings.strength = strength
    settings.temporal = smoothing ? 1 : 0
    settings.rotation = o.rotationDegrees
    settings.mirror = o.mirrored ? 1 : 0
    settings.upright_output = 1  // the output is drawn as it comes
    return settings
}

/// A pipelined portrait-mode preview: each `push` gives the frame pushed before it (one frame of
/// latency) while the model works on the new one on a thread of its own. The camera's delegate
/// queue pushes; `update` may be called from the main thread at any time (never blocks, applies
/// from the next frame).
public final class BokehStream {
    private var handle: OpaquePointer?
    private var mode: BokehMode, strength: Float
    private var orientation = BokehOrientation()

    public init(mode: BokehMode = .blur, strength: Float = 0.03) throws {
        self.mode = mode
        self.strength = strength
        var settings = try makeSettings(mode, strength, true, orientation)
        try check(bokeh_stream_create(&settings, &handle))
    }

    deinit { bokeh_stream_destroy(&handle) }

    /// Compiles the model for this frame size before the first frame (off the main thread).
    public func prepare(width: Int, height: Int) throws {
        try check(bokeh_stream_prepare(handle, UInt32(width), UInt32(height), bokeh_pixel_format(BOKEH_FORMAT_NV12)))
    }

    public func update(mode: BokehMode? = nil, strength: Float? = nil) throws {
        if let mode { self.mode = mode }
        if let strength { self.strength = strength }
        var settings = try makeSettings(self.mode, self.strength, true, orientation)
        try check(bokeh_stream_set_settings(handle, &settings))
    }

    /// Pushes a camera frame and writes the previous one into `output` (BGRA, upright: width and
    /// height swapped for 90° and 270°). Returns false when nothing was written yet.
    public func push(_ input: CVPixelBuffer, orientation: BokehOrientation, into output: CVPixelBuffer) throws -> Bool {
        if orientation != self.orientation {
            self.orientation = orientation
            try update()
        }
        CVPixelBufferLockBaseAddress(input, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(input, .readOnly) }
        CVPixelBufferLockBaseAddress(output, [])
        defer { CVPixelBufferUnlockBaseAddress(output, []) }
        var inFrame = try describe(input)
        var outFrame = try describe(output)
        var written: UInt32 = 0
        try check(bokeh_stream_push(handle, &inFrame, &outFrame, &written))
        return written == 1
    }
}

/// Portrait mode frame by frame (photos, or a stream where latency must be zero). Frame calls
/// from one queue at a time (a second concurrent one throws BOKEH_STATUS_BUSY rather than
/// racing); `update` from any thread.
public final class BokehProcessor {
    public typealias Mode = BokehMode

    private var handle: OpaquePointer?

    /// - Parameters:
    ///   - mode: what to produce.
    ///   - strength: blur radius as a fraction of the frame diagonal (0...0.25).
    ///   - smoothing: temporal smoothing of the mask (camera streams: on; unrelated stills: off).
    ///   - orientation: how the frames are stored (the output is written upright).
    public init(mode: Mode = .blur, strength: Float = 0.03, smoothing: Bool = true,
                orientation: BokehOrientation = BokehOrientation()) throws {
        var settings = try makeSettings(mode, strength, smoothing, orientation)
        try check(bokeh_processor_create(&settings, &handle))
    }

    deinit {
        bokeh_processor_destroy(&handle)
    }

    /// Changes the settings; from any thread, applied at the next frame.
    public func update(mode: Mode, strength: Float, smoothing: Bool = true,
                       orientation: BokehOrientation = BokehOrientation()) throws {
        var settings = try makeSettings(mode, strength, smoothing, orientation)
        try check(bokeh_processor_set_settings(handle, &settings))
    }

    /// Processes a camera frame (`kCVPixelFormatType_32BGRA`, `420YpCbCr8BiPlanarVideoRange`
    /// or `…FullRange`) into `output`, a BGRA buffer of the same size (in `.mask` mode, a
    /// `kCVPixelFormatType_OneComponent8` buffer). `output` may be `input` itself for BGRA.
    public func process(_ input: CVPixelBuffer, into output: CVPixelBuffer) throws {
        CVPixelBufferLockBaseAddress(input, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(input, .readOnly) }
        let sameBuffer = input === output
        if !sameBuffer { CVPixelBufferLockBaseAddress(output, []) }
        defer { if !sameBuffer { CVPixelBufferUnlockBaseAddress(output, []) } }

        var inFrame = try describe(input)
        var outFrame = try describe(output)
        try check(bokeh_processor_process(handle, &inFrame, &outFrame))
    }

    /// Forgets the smoothing's past (after a cut or a camera switch).
    public func reset() throws {
        try check(bokeh_processor_reset(handle))
    }

    /// Stage times of the last frame, in milliseconds.
    public func timings() throws -> bokeh_timings {
        var t = bokeh_timings()
        try check(bokeh_processor_get_timings(handle, &t))
        return t
    }
}

private func describe(_ buffer: CVPixelBuffer) throws -> bokeh_frame {
    var frame = bokeh_frame()
    frame.width = UInt32(CVPixelBufferGetWidth(buffer))
    frame.height = UInt32(CVPixelBufferGetHeight(buffer))
    let type = CVPixelBufferGetPixelFormatType(buffer)
    switch type {
    case kCVPixelFormatType_32BGRA:
        frame.format = bokeh_pixel_format(BOKEH_FORMAT_BGRA)
    case kCVPixelFormatType_OneComponent8:
        frame.format = bokeh_pixel_format(BOKEH_FORMAT_GRAY)
    case kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange:
        frame.format = bokeh_pixel_format(BOKEH_FORMAT_NV12)
        frame.color = bokeh_color_space(is709(buffer) ? BOKEH_COLOR_BT709_LIMITED : BOKEH_COLOR_BT601_LIMITED)
    case kCVPixelFormatType_420YpCbCr8BiPlanarFullRange:
        frame.format = bokeh_pixel_format(BOKEH_FORMAT_NV12)
        frame.color = bokeh_color_space(is709(buffer) ? BOKEH_COLOR_BT709_FULL : BOKEH_COLOR_BT601_FULL)
    default:
        throw BokehError(status: BOKEH_STATUS_UNSUPPORTED_FORMAT, message: "pixel format \(type)")
    }
    // C fixed-size arrays import as tuples; fill them through a pointer.
    let planes = CVPixelBufferIsPlanar(buffer) ? CVPixelBufferGetPlaneCount(buffer) : 1
    withUnsafeMutableBytes(of: &frame.planes) { raw in
        let p = raw.bindMemory(to: UnsafeMutablePointer<UInt8>?.self)
        for i in 0..<planes {
            let base = planes > 1 ? CVPixelBufferGetBaseAddressOfPlane(buffer, i) : CVPixelBufferGetBaseAddress(buffer)
            p[i] = base?.assumingMemoryBound(to: UInt8.self)
        }
    }
    withUnsafeMutableBytes(of: &frame.strides) { raw in
        let s = raw.bindMemory(to: Int.self)
        withUnsafeMutableBytes(of: &frame.sizes) { rawSizes in
            let z = rawSizes.bindMemory(to: Int.self)
            for i in 0..<planes {
                let stride = planes > 1 ? CVPixelBufferGetBytesPerRowOfPlane(buffer, i) : CVPixelBufferGetBytesPerRow(buffer)
                let rows = planes > 1 ? CVPixelBufferGetHeightOfPlane(buffer, i) : CVPixelBufferGetHeight(buffer)
                s[i] = stride
                z[i] = stride * rows
            }
        }
    }
    return frame
}

/// Whether the buffer is tagged BT.709 (HD capture usually is; SD and untagged buffers are 601).
private func is709(_ buffer: CVPixelBuffer) -> Bool {
    guard let matrix = CVBufferCopyAttachment(buffer, kCVImageBufferYCbCrMatrixKey, nil) else { return false }
    return CFEqual(matrix, kCVImageBufferYCbCrMatrix_ITU_R_709_2)
}
