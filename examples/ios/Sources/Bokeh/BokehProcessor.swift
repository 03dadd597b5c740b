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

/// Portrait mode for one camera stream. Use it from one queue at a time (a second concurrent
/// call throws BOKEH_STATUS_BUSY rather than racing).
public final class BokehProcessor {
    public enum Mode: UInt32 { case blur = 0, replace = 1, cutout = 2, mask = 3 }

    private var handle: OpaquePointer?

    /// - Parameters:
    ///   - mode: what to produce.
    ///   - strength: blur radius as a fraction of the frame diagonal (0...0.25).
    ///   - smoothing: temporal smoothing of the mask (camera streams: on; unrelated stills: off).
    public init(mode: Mode = .blur, strength: Float = 0.03, smoothing: Bool = true) throws {
        var settings = bokeh_settings()
        try check(bokeh_settings_init(&settings))
        settings.mode = mode.rawValue
        settings.strength = strength
        settings.temporal = smoothing ? 1 : 0
        try check(bokeh_processor_create(&settings, &handle))
    }

    deinit {
        bokeh_processor_destroy(&handle)
    }

    /// Changes mode and strength between frames.
    public func update(mode: Mode, strength: Float, smoothing: Bool = true) throws {
        var settings = bokeh_settings()
        try check(bokeh_settings_init(&settings))
        settings.mode = mode.rawValue
        settings.strength = strength
        settings.temporal = smoothing ? 1 : 0
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

        var inFrame = try Self.describe(input)
        var outFrame = try Self.describe(output)
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

    private static func describe(_ buffer: CVPixelBuffer) throws -> bokeh_frame {
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
            frame.color = bokeh_color_space(BOKEH_COLOR_BT601_LIMITED)
        case kCVPixelFormatType_420YpCbCr8BiPlanarFullRange:
            frame.format = bokeh_pixel_format(BOKEH_FORMAT_NV12)
            frame.color = bokeh_color_space(BOKEH_COLOR_BT601_FULL)
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
}
